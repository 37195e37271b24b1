"""A dataset is a folder of JSON Lines files, each optional."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from coach.domain.errors import InvalidInput
from evals.schemas import problem

DEV_DATASET = Path(__file__).resolve().parent / "datasets" / "dev"
TRAIN_DATASET = Path(__file__).resolve().parent / "datasets" / "train"
TEST_DATASET = Path(__file__).resolve().parent / "datasets" / "test"
SUITE_FILES = {
    "retrieval": "retrieval.jsonl",
    "reflections": "reflections.jsonl",
    "health": "pairs.jsonl",
    "agendas": "agendas.jsonl",
    "topics": "topics.jsonl",
    "chat": "chat.jsonl",
    "faithfulness": "faithfulness.jsonl",
}


# Datasets named by a word rather than a folder: text from outside the project, read where it
# lies (evals/external.py), for the reflections suite.
EXTERNAL = ("ami",)


def is_external(dataset: Path) -> bool:
    return str(dataset) in EXTERNAL


def load_cases(dataset: Path, suite: str) -> list[dict[str, Any]]:
    if is_external(dataset):
        from evals.external import ami_cases

        return ami_cases() if suite == "reflections" else []
    path = Path(dataset) / SUITE_FILES[suite]
    return load_file(path, suite) if path.exists() else []


def load_file(path: Path, suite: str) -> list[dict[str, Any]]:
    """The cases of one JSON Lines file, each checked against ``suite``'s schema."""
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{path}:{number} is not valid JSON ({exc.msg}).") from None
        if not isinstance(case, dict) or "id" not in case:
            raise InvalidInput(f"{path}:{number} needs a JSON object with an \"id\".")
        wrong = problem(suite, case)
        if wrong:
            raise InvalidInput(f"{path}:{number}: case {case['id']}: {wrong}.")
        cases.append(case)
    return cases
