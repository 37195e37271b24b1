"""Runs suites over a dataset and gathers the JSON report."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from coach.container import Container
from coach.errors import InvalidInput
from evals.datasets import DEV_DATASET, load_cases
from evals.health import run_health
from evals.retrieval import run_retrieval

SuiteRunner = Callable[[list[dict[str, Any]], Container, Path], dict[str, Any]]
SUITES: dict[str, SuiteRunner] = {"retrieval": run_retrieval, "health": run_health}


def run_eval(container: Container, dataset: Path | None = None,
             suites: Sequence[str] = ()) -> dict[str, Any]:
    dataset = Path(dataset) if dataset else DEV_DATASET
    if not dataset.is_dir():
        raise InvalidInput(f"No dataset folder at {dataset}.")
    chosen = list(suites) or list(SUITES)
    unknown = [s for s in chosen if s not in SUITES]
    if unknown:
        raise InvalidInput(f"Unknown suite {unknown[0]!r}. Available: {', '.join(SUITES)}.")
    results: dict[str, Any] = {}
    for suite in chosen:
        cases = load_cases(dataset, suite)
        if cases:
            results[suite] = SUITES[suite](cases, container, dataset)
    return {"dataset": str(dataset), "runs": [{"backend": container.settings.llm_backend,
                                               "suites": results}]}
