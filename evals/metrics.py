"""Metric functions, each checked against hand-computed values in tests/test_eval_metrics.py."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Sequence
from typing import TypeVar

from coach.text.tokens import SAME_ITEM_OVERLAP, token_f1
from tools.stats import percentile

MATCH_THRESHOLD = SAME_ITEM_OVERLAP


def match_items(predicted: Sequence[str], gold: Sequence[str],
                similarity: Callable[[str, str], float] = token_f1,
                threshold: float = MATCH_THRESHOLD) -> list[tuple[int, int, float]]:
    """One-to-one matching: greedily pair the most similar (predicted, gold) items first,
    keeping pairs whose similarity is at least ``threshold``."""
    scored = sorted(((similarity(p, g), i, j) for i, p in enumerate(predicted)
                     for j, g in enumerate(gold)), key=lambda x: (-x[0], x[1], x[2]))
    used_p, used_g, pairs = set(), set(), []
    for score, i, j in scored:
        if score < threshold:
            break
        if i in used_p or j in used_g:
            continue
        used_p.add(i)
        used_g.add(j)
        pairs.append((i, j, score))
    return pairs


def prf(n_pred: int, n_gold: int, n_match: int) -> dict[str, float]:
    """Precision, recall and F1. With nothing predicted and nothing expected, all are 1."""
    if n_pred == 0 and n_gold == 0:
        return {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    p = n_match / n_pred if n_pred else 0.0
    r = n_match / n_gold if n_gold else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def micro_prf(counts: Sequence[tuple[int, int, int]]) -> dict[str, float]:
    return prf(sum(c[0] for c in counts), sum(c[1] for c in counts), sum(c[2] for c in counts))


def classification(gold: Sequence[str], predicted: Sequence[str],
                   labels: Sequence[str]) -> dict[str, object]:
    """Accuracy, macro F1, per-label precision/recall and a confusion matrix (gold -> predicted)."""
    matrix = {g: {p: 0 for p in labels} for g in labels}
    for g, p in zip(gold, predicted, strict=True):
        matrix[g][p] += 1
    out: dict[str, object] = {"accuracy": sum(g == p for g, p in zip(gold, predicted)) / max(1, len(gold))}
    f1s = []
    for label in labels:
        tp = matrix[label][label]
        pred = sum(matrix[g][label] for g in labels)
        actual = sum(matrix[label].values())
        precision = tp / pred if pred else 0.0
        recall = tp / actual if actual else 0.0
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
        out[f"{label}.precision"] = precision
        out[f"{label}.recall"] = recall
    out["macro_f1"] = sum(f1s) / len(f1s)
    out["confusion"] = matrix
    return out


T = TypeVar("T")
BOOTSTRAP_ROUNDS = 1000


def bootstrap_interval(cases: Sequence[T], statistic: Callable[[Sequence[T]], float], *,
                       level: float = 0.95, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0
                       ) -> tuple[float, float]:
    """How far a figure could move on another set of the same size: the central ``level`` of
    ``statistic`` over ``rounds`` resamples of the cases, drawn with replacement (a percentile
    bootstrap). A test split of 48 reflections is small; this says how small. Seeded, so the
    same cases give the same interval."""
    if not cases:
        return 0.0, 0.0
    draw = random.Random(seed)
    values = [statistic([cases[draw.randrange(len(cases))] for _ in cases])
              for _ in range(rounds)]
    tail = (1 - level) / 2
    return percentile(values, 100 * tail), percentile(values, 100 * (1 - tail))


def with_interval(metrics: dict[str, float], name: str, cases: Sequence[T],
                  statistic: Callable[[Sequence[T]], float]) -> None:
    """Adds ``name``'s bootstrap interval to ``metrics`` as ``name``_ci95_low and _high."""
    metrics[f"{name}_ci95_low"], metrics[f"{name}_ci95_high"] = \
        bootstrap_interval(cases, statistic)


def latency(values: Sequence[float]) -> dict[str, float]:
    return {"latency_ms.p50": statistics.median(values) if values else 0.0,
            "latency_ms.p95": percentile(values, 95)}


def ndcg(ranked: Sequence[str], grades: dict[str, float], k: int) -> float | None:
    """Normalised discounted cumulative gain of the first ``k`` of ``ranked`` against graded
    relevance (gain 2^grade - 1, log2 discount). None when nothing is relevant: such a case
    says nothing about ranking and is left out of the mean."""
    ideal = sorted((g for g in grades.values() if g > 0), reverse=True)[:k]
    if not ideal:
        return None
    def dcg(gains: Sequence[float]) -> float:
        return sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(gains))
    return dcg([grades.get(t, 0) for t in ranked[:k]]) / dcg(ideal)


def mean_defined(values: Sequence[float | None]) -> float:
    """Mean of the values that are not None (0.0 if there are none)."""
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else 0.0


def cosine_matrix(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]]) -> list[list[float]]:
    """Cosine similarity of every vector of ``a`` with every vector of ``b``."""
    def unit(v: Sequence[float]) -> list[float]:
        norm = math.sqrt(sum(x * x for x in v)) or 1.0
        return [x / norm for x in v]
    ua, ub = [unit(v) for v in a], [unit(v) for v in b]
    return [[sum(x * y for x, y in zip(u, w)) for w in ub] for u in ua]


def remembered(embed: Callable[[list[str]], list[list[float]]]) -> Callable[[list[str]], list]:
    """``embed`` (texts to vectors) that embeds each text once: a suite's measurements and
    baselines ask for the same catalogue texts case after case."""
    seen: dict[str, list[float]] = {}

    def embed_once(texts: list[str]) -> list:
        missing = [t for t in dict.fromkeys(texts) if t not in seen]
        if missing:
            seen.update(zip(missing, embed(missing), strict=True))
        return [seen[t] for t in texts]

    return embed_once
