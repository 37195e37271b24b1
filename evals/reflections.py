"""Reflections suite: action items, blockers, sentiment, key points, faithfulness, compression.

Matching (documented, deterministic): a predicted item and a gold item match when their
token-overlap F1 (stemmed content words) is at least 0.5; items are paired one-to-one, most
similar first. A gold key point is recalled when at least half of its content words appear in
one summary sentence or key point. A summary sentence is faithful when at least 60% of its
content words appear in one reflection sentence and its neighbours (coach.services.text).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from coach.container import Container
from coach.retrieval.text import tokenize
from coach.services.text import is_supported, split_sentences
from evals.metrics import latency, match_items, micro_prf

KEY_POINT_RECALL = 0.5


def recall_of(gold: str, candidates: list[str]) -> float:
    words = set(tokenize(gold))
    if not words:
        return 0.0
    return max((len(words & set(tokenize(c))) / len(words) for c in candidates), default=0.0)


def faithfulness(summary: str, source: str) -> tuple[int, int]:
    sentences = split_sentences(summary)
    return sum(1 for s in sentences if is_supported(s, [source])), len(sentences)


def run_reflections(cases: list[dict[str, Any]], container: Container, dataset: Path,
                    backend: str = "none") -> dict[str, Any]:
    summariser = container.coach(backend).summariser
    actions, blockers, results, times = [], [], [], []
    sentiment_ok = kp_hit = kp_total = faithful = sentences = fallbacks = 0
    compression: list[float] = []
    for case in cases:
        started = time.perf_counter()
        out = summariser.summarise(case["text"], case.get("author_role", "mentee"),
                                   focus=[case["focus"]] if case.get("focus") else ()).value
        times.append((time.perf_counter() - started) * 1000)
        gold = case["gold"]
        predicted_actions = [a["text"] for a in out["action_items"]]
        a_pairs = match_items(predicted_actions, gold.get("action_items", []))
        b_pairs = match_items(out["blockers"], gold.get("blockers", []))
        actions.append((len(predicted_actions), len(gold.get("action_items", [])), len(a_pairs)))
        blockers.append((len(out["blockers"]), len(gold.get("blockers", [])), len(b_pairs)))
        ok = out["sentiment"] == gold.get("sentiment")
        sentiment_ok += ok
        candidates = split_sentences(out["summary"]) + list(out["key_points"])
        hits = [kp for kp in gold.get("key_points", []) if recall_of(kp, candidates) >= KEY_POINT_RECALL]
        kp_hit += len(hits)
        kp_total += len(gold.get("key_points", []))
        f, n = faithfulness(out["summary"], case["text"])
        faithful += f
        sentences += n
        compression.append(len(out["summary"].split()) / max(1, len(case["text"].split())))
        fallbacks += bool(out["provenance"]["fallback"])
        passed = (ok and len(a_pairs) == len(gold.get("action_items", [])) == len(predicted_actions)
                  and f == n)
        results.append({"id": case["id"], "passed": passed, "details": {
            "input": case["text"], "output": {k: out[k] for k in
                                              ("summary", "key_points", "action_items", "blockers",
                                               "sentiment", "engagement")},
            "gold": gold, "sentiment_ok": ok, "action_matches": len(a_pairs),
            "blocker_matches": len(b_pairs), "faithful_sentences": f"{f}/{n}",
            "fallback_reason": out["provenance"].get("fallback_reason")}})
    metrics: dict[str, float] = {}
    for name, counts in (("action_items", actions), ("blockers", blockers)):
        for key, value in micro_prf(counts).items():
            metrics[f"{name}.{key}"] = value
    n = max(1, len(cases))
    metrics["sentiment.accuracy"] = sentiment_ok / n
    metrics["key_points.recall"] = kp_hit / kp_total if kp_total else 1.0
    metrics["faithfulness"] = faithful / sentences if sentences else 1.0
    metrics["compression"] = sum(compression) / n
    metrics.update(latency(times))
    metrics["fallback_rate"] = fallbacks / n
    return {"metrics": metrics, "cases": results}
