"""Runs suites over a dataset for one or more backends, and checks thresholds."""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from coach.adapters.chat_models import BACKENDS
from coach.container import Container
from coach.domain.errors import InvalidInput
from evals.agendas import run_agendas
from evals.chat import run_chat
from evals.datasets import DEV_DATASET, EXTERNAL, is_external, load_cases
from evals.faithfulness import run_faithfulness
from evals.health import run_health
from evals.reflections import run_reflections
from evals.retrieval import run_retrieval
from evals.topics import run_topics

SuiteRunner = Callable[..., dict[str, Any]]
SUITES: dict[str, SuiteRunner] = {
    "retrieval": run_retrieval,
    "reflections": run_reflections,
    "health": run_health,
    "agendas": run_agendas,
    "topics": run_topics,
    "chat": run_chat,
    "faithfulness": run_faithfulness,
}
BACKEND_FREE = {"retrieval", "faithfulness"}  # no model involved: computed once, shown for every backend


def run_eval(container: Container, dataset: Path | None = None, suites: Sequence[str] = (),
             backends: Sequence[str] = (), judge=None,
             log: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    dataset = Path(dataset) if dataset else DEV_DATASET
    if not dataset.is_dir() and not is_external(dataset):
        raise InvalidInput(f"No dataset folder at {dataset} (or use one of: {', '.join(EXTERNAL)}).")
    chosen = list(dict.fromkeys(suites)) or list(SUITES)
    unknown = [s for s in chosen if s not in SUITES]
    if unknown:
        raise InvalidInput(f"Unknown suite {unknown[0]!r}. Available: {', '.join(SUITES)}.")
    backends = list(dict.fromkeys(backends)) or [container.settings.llm_backend]
    bad = [b for b in backends if b not in BACKENDS]
    if bad:
        raise InvalidInput(f"Unknown backend {bad[0]!r}. Use: {', '.join(BACKENDS)}.")
    cases = {suite: load_cases(dataset, suite) for suite in chosen}
    runs, shared = [], {}
    for backend in backends:
        results: dict[str, Any] = {}
        for suite in chosen:
            if not cases[suite]:
                continue
            log(f"{backend}: {suite} ({len(cases[suite])} cases)")
            if suite in BACKEND_FREE and suite in shared:
                results[suite] = shared[suite]
                continue
            results[suite] = SUITES[suite](cases[suite], container, dataset, backend=backend)
            if suite in BACKEND_FREE:
                shared[suite] = results[suite]
        run: dict[str, Any] = {"backend": backend, "suites": results}
        if judge is not None:
            run["judge"] = judge.score(results)
        runs.append(run)
    return {"dataset": str(dataset), "runs": runs}


def load_thresholds(path: Path) -> dict[str, dict[str, float]]:
    """TOML: one table per suite, ``metric = minimum`` (latency metrics are maxima)."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"No thresholds file at {path}.") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path} is not valid TOML: {exc}.") from None
    out: dict[str, dict[str, float]] = {}
    for suite, table in data.items():
        if suite not in SUITES or not isinstance(table, dict):
            raise InvalidInput(f"{path}: unknown suite [{suite}]. Use: {', '.join(SUITES)}.")
        out[suite] = {str(k): float(v) for k, v in table.items()}
    return out


def check_thresholds(report: dict[str, Any], thresholds: dict[str, dict[str, float]]) -> list[str]:
    """Every miss, as 'backend suite metric: value < minimum'."""
    misses = []
    for run in report["runs"]:
        for suite, limits in thresholds.items():
            result = run["suites"].get(suite)
            if result is None:
                continue
            for metric, bound in limits.items():
                value = result["metrics"].get(metric)
                if value is None:
                    misses.append(f"{run['backend']} {suite} {metric}: no such metric")
                elif metric.startswith("latency_ms") or metric == "fallback_rate":
                    if value > bound:
                        misses.append(f"{run['backend']} {suite} {metric}: {value:.3f} > {bound:g}")
                elif value < bound:
                    misses.append(f"{run['backend']} {suite} {metric}: {value:.3f} < {bound:g}")
    return misses
