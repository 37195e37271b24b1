"""Thresholds the coach uses, chosen on the dev split and printed with what each choice gives.

    python -m evals.calibrate covered    # COVERED_SIMILARITY (coach/services/topics.py)
    python -m evals.calibrate questions  # OPENING_QUESTION_SIMILARITY (evals/agendas.py)

Each prints the F1 at every candidate threshold and the one it would choose; the constants
are then set by hand, so a change to them shows in a commit.
"""

from __future__ import annotations

import sys

from coach.container import Container
from coach.settings import Settings
from evals.builders import knowledge_scratch
from evals.datasets import DEV_DATASET, load_cases
from evals.metrics import cosine_matrix, prf

CANDIDATES = [round(0.30 + 0.025 * i, 3) for i in range(17)]


def best(scored: list[tuple[float, bool]], total_positive: int | None = None) -> float:
    """Prints F1 per threshold for (score, is_right) pairs; returns the best threshold."""
    positives = total_positive if total_positive is not None else sum(ok for _, ok in scored)
    rows = []
    for t in CANDIDATES:
        kept = [ok for s, ok in scored if s >= t]
        m = prf(len(kept), positives, sum(kept))
        rows.append((m["f1"], t))
        print(f"  {t:.3f}  P {m['precision']:.3f}  R {m['recall']:.3f}  F1 {m['f1']:.3f}")
    choice = max(rows)[1]
    print(f"choose {choice:.3f}")
    return choice


def covered(container: Container) -> float:
    """A note names the topic nearest to it when the similarity clears the threshold."""
    scored, total = [], 0
    with knowledge_scratch(container) as scratch:
        suggester = scratch.coach("none").topics_service
        for case in load_cases(DEV_DATASET, "topics"):
            gold = set(case.get("gold", {}).get("covered_ids") or [])
            total += len(gold)
            for note in case.get("covered_topics", []):
                nearest = suggester.nearest_topic(note)
                if nearest is not None:
                    scored.append((nearest[1], nearest[0] in gold))
    return best(scored, total)


def questions(container: Container) -> float:
    """An opening question belongs to a topic or a goal. On the dev agenda cases: each
    conversation starter of a topic graded 2 for the case, against that topic and the goals
    (right); a starter of a topic graded 0 from another focus, against the same (wrong)."""
    import random

    rng = random.Random(0)
    with knowledge_scratch(container) as scratch:
        topics = scratch.catalogue.all()
        embed = scratch.embedder.embed_documents
        scored = []
        for case in load_cases(DEV_DATASET, "agendas"):
            grades = case.get("gold", {}).get("topic_grades") or {}
            focus = case.get("pair", {}).get("focus") or []
            goals = case.get("pair", {}).get("goals") or []
            for tid in [t for t, g in grades.items() if g == 2 and t in topics]:
                anchors = embed([topics[tid].text, *goals])
                others = [t for t in topics.values() if t.focus not in focus and t.id not in grades]
                wrong = rng.choice(others)
                for starter, ok in [(q, True) for q in topics[tid].starters] + \
                        [(q, False) for q in wrong.starters]:
                    scored.append((max(cosine_matrix(embed([starter]), anchors)[0]), ok))
    return best(scored)


def main(argv: list[str]) -> None:
    container = Container(Settings())
    what = argv[0] if argv else ""
    if what == "covered":
        covered(container)
    elif what == "questions":
        questions(container)
    else:
        raise SystemExit("usage: python -m evals.calibrate covered|questions")


if __name__ == "__main__":
    main(sys.argv[1:])
