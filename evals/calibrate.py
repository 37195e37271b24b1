"""Thresholds the coach uses, chosen on the dev split and printed with what each choice gives.

    python -m evals.calibrate covered    # COVERED_SIMILARITY (coach/services/topics.py)

Each prints the F1 at every candidate threshold and the one it would choose; the constants
are then set by hand, so a change to them shows in a commit.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from coach.container import Container
from coach.settings import Settings
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
    with tempfile.TemporaryDirectory() as tmp:
        scratch = container.scratch(Path(tmp))
        scratch.db.migrate()
        scratch.ingestor.ingest([scratch.settings.knowledge_dir])
        retriever = scratch.retriever
        for case in load_cases(DEV_DATASET, "topics"):
            gold = set(case.get("gold", {}).get("covered_ids") or [])
            total += len(gold)
            for note in case.get("covered_topics", []):
                hits = retriever.search(note, 3, kinds=["topic"])
                top = max(hits, key=lambda h: h.similarity, default=None)
                if top is not None:
                    scored.append((top.similarity, str(top.metadata.get("topic_id")) in gold))
        scratch.close()
    return best(scored, total)


def main(argv: list[str]) -> None:
    container = Container(Settings())
    what = argv[0] if argv else ""
    if what == "covered":
        covered(container)
    else:
        raise SystemExit("usage: python -m evals.calibrate covered")


if __name__ == "__main__":
    main(sys.argv[1:])
