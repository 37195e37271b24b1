"""How well "same item" by token overlap agrees with people who judged it.

evals/datasets/match-judgments/judgments.jsonl holds 551 pairs (an item the shipped reader
extracted, a gold item of the same reflection) from training reflections (train-more/,
train-extra/): every pair sharing a stemmed content word, and a random 100 of those sharing
none. Each was judged by a person who saw only the reflection and the two phrases: do they
name the same action item or blocker?
41 pairs were judged by two people, who agreed on all 41. The threshold the evaluation and
the blocker model use, SAME_ITEM_OVERLAP, is where this agreement is best.

    .venv/bin/python -m evals.match_agreement
"""

from __future__ import annotations

import json
from pathlib import Path

from coach.text.tokens import SAME_ITEM_OVERLAP, token_f1
from evals.metrics import prf

JUDGMENTS = Path(__file__).parent / "datasets" / "match-judgments" / "judgments.jsonl"
THRESHOLDS = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5)


def load() -> list[dict]:
    return [json.loads(line) for line in JUDGMENTS.read_text().splitlines() if line.strip()]


def agreement(judgments: list[dict], threshold: float) -> dict[str, float]:
    """Precision, recall and F1 of "overlap >= threshold" against the people's "same"."""
    said = [token_f1(j["a"], j["b"]) >= threshold for j in judgments]
    same = [j["same"] for j in judgments]
    both = sum(s and t for s, t in zip(said, same))
    return prf(sum(said), sum(same), both)


def report() -> dict[str, dict[str, dict[str, float]]]:
    judgments = load()
    return {kind: {f"{t:.2f}": agreement([j for j in judgments if kind in ("all", j["kind"])], t)
                   for t in THRESHOLDS}
            for kind in ("blocker", "action", "all")}


def main() -> None:
    figures = report()
    print(f"agreement with people's judgments (F1 of 'same item'); "
          f"SAME_ITEM_OVERLAP = {SAME_ITEM_OVERLAP}")
    print("threshold  " + "  ".join(f"{k:>18s}" for k in figures))
    for t in THRESHOLDS:
        key = f"{t:.2f}"
        print(f"{key:>9s}  " + "  ".join(
            f"P {figures[k][key]['precision']:.2f} R {figures[k][key]['recall']:.2f} "
            f"F1 {figures[k][key]['f1']:.2f}" for k in figures))


if __name__ == "__main__":
    main()
