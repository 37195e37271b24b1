"""Topics suite: graded relevance of the suggestions, and that covered topics stay covered.

Gold (evals/ANNOTATION.md, section 5): each catalogue topic graded 2 (serves a goal), 1
(related and useful) or 0, and the topics the pair's covered notes refer to, judged by meaning.

* ndcg: nDCG@k of the suggestions against the grades (cases with a graded topic).
* novelty: share of suggested topics that are not among the gold covered topics.
* covered.matched: share of gold covered topics that the suggester recognised in the notes.
* goal_relevance: share of suggestions graded 1 or 2.
* diversity: share of pairs of suggestions neither listed as related nor alike in title.

Beside them, two baselines that read the same notes: the first k topics of the pair's focus in
catalogue order, and the k topics nearest the goals by MiniLM similarity, each skipping covered
notes only where they spell a catalogue title exactly.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

from coach.container import Container
from coach.text.sentences import overlap
from evals.builders import build_pair
from evals.metrics import cosine_matrix, latency, mean_defined, ndcg, remembered


def diverse(a, b) -> bool:
    return a.id not in b.related and b.id not in a.related and overlap(a.title, b.title) < 0.3


def baselines(scratch: Container, case: dict[str, Any], focus: list[str], embed
              ) -> dict[str, list[str]]:
    """The two simple rankings each metric is printed beside."""
    by_title = scratch.catalogue.by_title()
    spelled = {by_title[t.casefold()].id for t in case.get("covered_topics", [])
               if t.casefold() in by_title}
    topics = [t for t in scratch.catalogue.all().values()
              if t.focus in focus and t.id not in spelled]
    k = int(case.get("k", 3))
    goals = case.get("pair", {}).get("goals", []) or [" ".join(focus)]
    vectors = embed([" ".join(goals)] + [t.text for t in topics])
    near = cosine_matrix(vectors[:1], vectors[1:])[0]
    nearest = [t.id for _, t in sorted(zip(near, topics), key=lambda x: -x[0])]
    return {"first_k": [t.id for t in topics][:k], "vector": nearest[:k]}


def score(ranked: list[str], case: dict[str, Any]) -> dict[str, float | None]:
    gold = case.get("gold", {})
    grades = {t: float(g) for t, g in (gold.get("grades") or {}).items()}
    covered = set(gold.get("covered_ids") or [])
    k = int(case.get("k", 3))
    shown = ranked[:k]
    return {"ndcg": ndcg(shown, grades, k) if "grades" in gold else None,
            "novelty": (sum(t not in covered for t in shown) / len(shown)) if shown else None,
            "goal_relevance": (sum(grades.get(t, 0) > 0 for t in shown) / len(shown))
            if shown and "grades" in gold else None}


def run_topics(cases: list[dict[str, Any]], container: Container, dataset: Path,
               backend: str = "none") -> dict[str, Any]:
    results, times, fallbacks, changed = [], [], 0, 0
    scores: dict[str, list[float | None]] = {}
    matched = gold_covered = pairs_total = pairs_diverse = 0
    with container.scratch_store() as scratch:
        coach = scratch.features(backend)
        suggester = coach.topics_service
        embed = remembered(scratch.embedder.embed_documents)
        for case in cases:
            pair = build_pair(scratch, case, summarise=False)
            notes = case.get("covered_topics", [])
            started = time.perf_counter()
            result = suggester.suggest(pair, int(case.get("k", 3)), covered=notes)
            times.append((time.perf_counter() - started) * 1000)
            fallbacks += result.provenance.fallback
            changed += result.provenance.changed
            topics = [s.topic for s in result.value]
            ids = [t.id for t in topics]
            gold_ids = set(case.get("gold", {}).get("covered_ids") or [])
            recognised = suggester.covered_by_notes(notes)
            matched += len(gold_ids & recognised)
            gold_covered += len(gold_ids)
            combos = list(itertools.combinations(topics, 2))
            div = sum(diverse(a, b) for a, b in combos)
            pairs_total += len(combos)
            pairs_diverse += div
            case_scores = {"": score(ids, case)}
            for name, ranked in baselines(scratch, case, list(pair.focus), embed).items():
                case_scores[f"baseline_{name}."] = score(ranked, case)
            for prefix, values in case_scores.items():
                for metric, value in values.items():
                    scores.setdefault(prefix + metric, []).append(value)
            mine = case_scores[""]
            results.append({
                "id": case["id"],
                "passed": mine["novelty"] == 1.0 and (mine["ndcg"] is None or mine["ndcg"] >= 0.5),
                "details": {"input": {"pair": case.get("pair"), "covered": notes},
                            "output": ids, "gold": case.get("gold"),
                            "recognised_as_covered": sorted(recognised),
                            **{m: v for m, v in mine.items()},
                            "diverse_pairs": f"{div}/{len(combos)}",
                            "fallback_reason": result.provenance.fallback_reason}})
    metrics = {name: mean_defined(values) for name, values in scores.items()}
    metrics["covered.matched"] = matched / gold_covered if gold_covered else 1.0
    metrics["diversity"] = pairs_diverse / pairs_total if pairs_total else 1.0
    metrics.update(latency(times))
    metrics["fallback_rate"] = fallbacks / max(1, len(cases))
    metrics["changed_rate"] = changed / max(1, len(cases))
    return {"metrics": metrics, "cases": results}
