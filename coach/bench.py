"""`coach bench`: measured figures, each beside the raw engine underneath where there is one.

Runs in a throwaway data directory (knowledge base + demo programme), never on user data.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coach.container import Container

CHAT_QUESTIONS = [
    "How do we agree ground rules about confidentiality?",
    "My mentee keeps checking their phone during our sessions. What can I do?",
    "How should I give honest feedback to a senior leader?",
    "What should we do in our last session together?",
    "How do I handle a senior who feels patronised?",
]


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None = None
    ratio: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": round(self.value, 3), "unit": self.unit,
                "baseline": None if self.baseline is None else round(self.baseline, 3),
                "ratio": None if self.ratio is None else round(self.ratio, 3)}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return (time.perf_counter() - started) * 1000, result


def prepare_demo(container: Container, data_dir: Path) -> Container:
    from coach.demo import load_demo, summariser_for

    scratch = container.scratch(data_dir)
    scratch.db.migrate()
    scratch.ingestor.ingest([scratch.settings.knowledge_dir])
    load_demo(scratch.store, scratch.programme,
              summarise=summariser_for(scratch.store, scratch.coach("none")))
    return scratch


def bench_features(container: Container, backends: list[str], runs: int = 20,
                   log: Callable[[str], None] = lambda _: None) -> list[Figure]:
    """End-to-end latency (p50, p95) and fallback rate per feature and backend, on the demo."""
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="coach-bench-") as tmp:
        scratch = prepare_demo(container, Path(tmp))
        pairs = [p for p in scratch.store.list_pairs() if p.status == "active"]
        reflections = [(p, r) for p in pairs for r in p.reflections]
        for backend in backends:
            coach = scratch.coach(backend)
            if backend != "none":
                coach.topics(pairs[0].id, 3)  # load the model before timing
            samples: dict[str, list[float]] = {k: [] for k in ("agenda", "topics", "summary", "chat_first_token", "chat")}
            fallbacks: dict[str, int] = {k: 0 for k in ("agenda", "topics", "summary", "chat")}
            for i in range(runs):
                pair = pairs[i % len(pairs)]
                ms, agenda = _timed(lambda: coach.agenda(pair.id, save=False))
                samples["agenda"].append(ms)
                fallbacks["agenda"] += agenda["provenance"]["fallback"]
                ms, topics = _timed(lambda: coach.topics(pair.id, 3))
                samples["topics"].append(ms)
                fallbacks["topics"] += topics["provenance"]["fallback"]
                rp, reflection = reflections[i % len(reflections)]
                ms, summary = _timed(lambda: coach.summariser.summarise(
                    reflection.text, reflection.author_role, focus=rp.focus).value)
                samples["summary"].append(ms)
                fallbacks["summary"] += summary["provenance"]["fallback"]
                started = time.perf_counter()
                first = None
                done: dict[str, Any] = {}
                for event in coach.chat(pair.id, pair.mentor.id, CHAT_QUESTIONS[i % len(CHAT_QUESTIONS)]):
                    if first is None and event.type in ("token", "replace"):
                        first = (time.perf_counter() - started) * 1000
                    if event.type == "done":
                        done = event.data
                samples["chat"].append((time.perf_counter() - started) * 1000)
                samples["chat_first_token"].append(first or samples["chat"][-1])
                fallbacks["chat"] += done["provenance"]["fallback"]
                log(f"{backend}: run {i + 1}/{runs}")
            for feature, values in samples.items():
                figures.append(Figure(f"{feature}.{backend}.p50", statistics.median(values), "ms"))
                figures.append(Figure(f"{feature}.{backend}.p95", percentile(values, 95), "ms"))
            for feature, count in fallbacks.items():
                figures.append(Figure(f"{feature}.{backend}.fallback_rate", count / runs, "share"))
        scratch.close()
    return figures
