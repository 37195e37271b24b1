"""Health suite: pair histories with a gold status, beside the majority-class baseline."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from coach.container import Container
from coach.health.signals import STATUSES
from evals.builders import build_pair
from evals.metrics import classification, latency, with_interval


def run_health(cases: list[dict[str, Any]], container: Container, dataset: Path,
               backend: str = "none") -> dict[str, Any]:
    gold, predicted, results, times, fallbacks, summaries = [], [], [], [], 0, 0
    with container.scratch_store() as scratch:
        coach = scratch.features(backend)
        for case in cases:
            started = time.perf_counter()
            pair = build_pair(scratch, case, coach=coach)
            for r in pair.reflections:
                summaries += 1
                fallbacks += bool((r.summary or {}).get("provenance", {}).get("fallback"))
            health = scratch.monitor.health(dt.date.fromisoformat(case["as_of"]), pair_id=pair.id)[0]
            times.append((time.perf_counter() - started) * 1000)
            expected = case["gold"]["status"]
            gold.append(expected)
            predicted.append(health.status)
            results.append({"id": case["id"], "passed": health.status == expected,
                            "details": {"gold": expected, "predicted": health.status,
                                        "score": health.score, "reasons": health.reasons}})
    metrics = classification(gold, predicted, STATUSES)
    confusion = metrics.pop("confusion")
    majority = max(STATUSES, key=gold.count) if gold else STATUSES[0]
    metrics["baseline_majority_macro_f1"] = classification(
        gold, [majority] * len(gold), STATUSES)["macro_f1"]
    pairs = list(zip(gold, predicted))
    for name in ("macro_f1", "stalled.recall"):
        with_interval(metrics, name, pairs,
                      lambda sample, name=name: classification(*zip(*sample), STATUSES)[name])
    metrics.update(latency(times))
    metrics["fallback_rate"] = fallbacks / summaries if summaries else 0.0
    return {"metrics": metrics, "confusion": confusion, "cases": results}
