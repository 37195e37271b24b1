"""Topics suite: focus precision, novelty, goal relevance and diversity.

* focus_precision: share of suggested topics whose focus is in the case's gold focus.
* novelty: share of suggested topics that are not among the covered topics.
* goal_relevance: share of suggested topics whose title and description contain at least two
  of a goal's content words (one, for a goal of three words or fewer).
* diversity: share of pairs of suggested topics that are neither listed as related to each
  other nor alike in title (token Dice below 0.3).
"""

from __future__ import annotations

import itertools
import tempfile
import time
from pathlib import Path
from typing import Any

from coach.container import Container
from coach.retrieval.text import tokenize
from coach.services.text import overlap
from evals.builders import build_pair
from evals.metrics import latency


def goal_relevant(text: str, goals: list[str]) -> bool:
    words = set(tokenize(text))
    for goal in goals:
        g = set(tokenize(goal))
        if g and len(g & words) >= (1 if len(g) <= 3 else 2):
            return True
    return False


def diverse(a, b) -> bool:
    return a.id not in b.related and b.id not in a.related and overlap(a.title, b.title) < 0.3


def run_topics(cases: list[dict[str, Any]], container: Container, dataset: Path,
               backend: str = "none") -> dict[str, Any]:
    results, times, fallbacks = [], [], 0
    shown = in_focus = new = relevant = pairs_total = pairs_diverse = 0
    with tempfile.TemporaryDirectory(prefix="coach-eval-") as tmp:
        scratch = container.scratch(Path(tmp))
        scratch.db.migrate()
        scratch.ingestor.ingest([scratch.settings.knowledge_dir])
        coach = scratch.coach(backend)
        by_title = scratch.catalogue.by_title()
        for case in cases:
            pair = build_pair(scratch, case, summarise=False)
            covered = {by_title[t.casefold()].id for t in case.get("covered_topics", [])
                       if t.casefold() in by_title}
            started = time.perf_counter()
            result = coach.topics_service.suggest(pair, int(case.get("k", 3)), exclude=covered)
            times.append((time.perf_counter() - started) * 1000)
            fallbacks += result.provenance.fallback
            topics = [s.topic for s in result.value]
            gold_focus = case.get("gold", {}).get("focus") or list(pair.focus)
            goals = case.get("pair", {}).get("goals", [])
            f = sum(t.focus in gold_focus for t in topics)
            nv = sum(t.id not in covered for t in topics)
            rel = sum(goal_relevant(f"{t.title} {t.description}", goals) for t in topics)
            combos = list(itertools.combinations(topics, 2))
            div = sum(diverse(a, b) for a, b in combos)
            shown += len(topics)
            in_focus += f
            new += nv
            relevant += rel
            pairs_total += len(combos)
            pairs_diverse += div
            results.append({"id": case["id"], "passed": f == nv == len(topics) and len(topics) == int(case.get("k", 3)),
                            "details": {"input": {"pair": case.get("pair"), "covered": case.get("covered_topics")},
                                        "output": [t.id for t in topics], "in_focus": f, "new": nv,
                                        "goal_relevant": rel, "diverse_pairs": f"{div}/{len(combos)}",
                                        "fallback_reason": result.provenance.fallback_reason}})
        scratch.close()
    n = max(1, shown)
    metrics = {"focus_precision": in_focus / n, "novelty": new / n, "goal_relevance": relevant / n,
               "diversity": pairs_diverse / pairs_total if pairs_total else 1.0}
    metrics.update(latency(times))
    metrics["fallback_rate"] = fallbacks / max(1, len(cases))
    return {"metrics": metrics, "cases": results}
