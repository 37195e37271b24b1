"""Retrieval suite: hit@1, hit@3, hit@5 and MRR over answer strings, beside a baseline: the
vector index used out of the box (the top five chunks by cosine, no BM25, no fusion)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from coach.container import Container
from coach.domain.errors import InvalidInput
from coach.ports import MetadataFilter
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


def corpus_of(dataset: Path) -> Path | None:
    """A dataset's own corpus: its corpus/ folder, or the folder its CORPUS file names."""
    if (dataset / "corpus").is_dir():
        return dataset / "corpus"
    pointer = dataset / "CORPUS"
    if pointer.exists():
        named = (dataset / pointer.read_text(encoding="utf-8").strip()).resolve()
        if not named.is_dir():
            raise InvalidInput(f"{pointer} names {named}, which is not a folder.")
        return named
    return None


def run_retrieval(cases: list[dict[str, Any]], container: Container, dataset: Path,
                  backend: str = "none") -> dict:
    """Score on the knowledge base; or, when the dataset has its own corpus (a programme's
    upload), on that corpus alone and again ingested beside the knowledge base, as a
    programme uploading its handbook would have it (metrics prefixed "with_knowledge.")."""
    corpus = corpus_of(dataset)
    if corpus is None:
        return _score(cases, container, [container.settings.knowledge_dir])
    alone = _score(cases, container, [corpus])
    beside = _score(cases, container, [corpus, container.settings.knowledge_dir])
    alone["metrics"].update({f"with_knowledge.{k}": v for k, v in beside["metrics"].items()
                             if not k.startswith("latency") and k != "fallback_rate"})
    for case, other in zip(alone["cases"], beside["cases"]):
        case["details"]["rank_with_knowledge"] = other["details"]["rank"]
        case["passed"] = case["passed"] and other["passed"]
    return alone


def _score(cases: list[dict[str, Any]], container: Container, sources: list[Path]) -> dict:
    """Always in a throwaway store, so nothing leaks into the user's data."""
    with container.scratch_store(sources) as scratch:
        results, ranks, baseline, latencies = [], [], [], []
        shared = MetadataFilter.of(scope=["global"])
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
            plain = scratch.index.search(case["query"], K, shared)
            baseline.append(first_hit_rank([chunk.text for chunk, _ in plain], answers))
            results.append({"id": case["id"], "passed": rank is not None,
                            "details": {"query": case["query"], "rank": rank,
                                        "top": [f"{h.source} > {h.heading}" for h in hits[:3]]}})
    metrics = retrieval_metrics(ranks)
    metrics["baseline_vector.hit@5"] = retrieval_metrics(baseline)["hit@5"]
    metrics.update(latency(latencies))
    return {"metrics": metrics, "cases": results}
