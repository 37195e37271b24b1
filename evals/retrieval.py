"""Retrieval suite: hit@1, hit@3, hit@5 and MRR over answer strings."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from coach.container import Container
from coach.errors import InvalidInput
from evals.metrics import latency

K = 5


def first_hit_rank(texts: list[str], answers: list[str]) -> int | None:
    """1-based rank of the first text containing any answer (case-insensitive)."""
    needles = [a.casefold() for a in answers if a.strip()]
    for rank, text in enumerate(texts, 1):
        haystack = text.casefold()
        if any(n in haystack for n in needles):
            return rank
    return None


def retrieval_metrics(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks) or 1
    return {
        "hit@1": sum(1 for r in ranks if r is not None and r <= 1) / n,
        "hit@3": sum(1 for r in ranks if r is not None and r <= 3) / n,
        "hit@5": sum(1 for r in ranks if r is not None and r <= 5) / n,
        "mrr": sum(1.0 / r for r in ranks if r is not None) / n,
    }


def run_retrieval(cases: list[dict[str, Any]], container: Container, dataset: Path,
                  backend: str = "none") -> dict:
    """Score on the dataset's corpus/ if it has one, else on the knowledge base; always in a
    throwaway store so nothing leaks into the user's data."""
    corpus = dataset / "corpus"
    source = corpus if corpus.is_dir() else container.settings.knowledge_dir
    with tempfile.TemporaryDirectory(prefix="coach-eval-") as tmp:
        scratch = container.scratch(Path(tmp))
        scratch.db.migrate()
        scratch.ingestor.ingest([source])
        results, ranks, latencies = [], [], []
        for case in cases:
            answers = case.get("answer_contains") or []
            if not case.get("query") or not answers:
                raise InvalidInput(f"Retrieval case {case['id']} needs a query and answer_contains.")
            started = time.perf_counter()
            hits = scratch.retriever.search(case["query"], K, focus=case.get("focus"),
                                            kinds=["guideline", "topic", "document"])
            latencies.append((time.perf_counter() - started) * 1000)
            rank = first_hit_rank([h.text for h in hits], answers)
            ranks.append(rank)
            results.append({"id": case["id"], "passed": rank is not None,
                            "details": {"query": case["query"], "rank": rank,
                                        "top": [f"{h.source} > {h.heading}" for h in hits[:3]]}})
        scratch.close()
    metrics = retrieval_metrics(ranks)
    metrics.update(latency(latencies))
    metrics["fallback_rate"] = 0.0
    return {"metrics": metrics, "cases": results}
