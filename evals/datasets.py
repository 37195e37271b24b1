"""A dataset is a folder of JSON Lines files, each optional."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from coach.errors import InvalidInput

DEV_DATASET = Path(__file__).resolve().parent / "datasets" / "dev"
SUITE_FILES = {
    "retrieval": "retrieval.jsonl",
    "reflections": "reflections.jsonl",
    "health": "pairs.jsonl",
    "agendas": "agendas.jsonl",
    "topics": "topics.jsonl",
}


def load_cases(dataset: Path, suite: str) -> list[dict[str, Any]]:
    path = Path(dataset) / SUITE_FILES[suite]
    if not path.exists():
        return []
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
        cases.append(case)
    return cases
