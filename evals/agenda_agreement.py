"""How often a second person, grading the same agenda cases blind, chooses a main topic that the
first person's grades call a fit: the level a coach's main_topic_fit can be held to.

evals/datasets/agreement/ holds a second annotator's grades for the dev and test agenda cases
(agendas-dev.jsonl, agendas-test.jsonl) and for the train cases of writer X
(agendas-train-x.jsonl): each catalogue topic graded 0-2 as the next session's main topic, and
the one topic they would make the main topic, or null to build it from the goal. The
annotators read only the grading instructions of section 4 of evals/ANNOTATION.md (the folder's
README), the cases without their gold, and the catalogue. Their main topic is scored by the first
annotator's grades with the same rule the coach is (evals.agendas.topic_fit), and the first
annotator's best topic by theirs.

    .venv/bin/python -m evals.agenda_agreement
"""

from __future__ import annotations

from pathlib import Path

from evals.agendas import AGREEMENT, grades_of, human_main_fit, second_grades, topic_fit
from evals.datasets import load_file

GRADED = {"agendas-dev.jsonl": Path(__file__).parent / "datasets" / "dev" / "agendas.jsonl",
          "agendas-test.jsonl": Path(__file__).parent / "datasets" / "test" / "agendas.jsonl",
          "agendas-train-x.jsonl": Path(__file__).parent / "datasets" / "train" / "agendas-x.jsonl"}


def best_topic(grades: dict[str, float]) -> str | None:
    """The first annotator's choice: a topic graded 2 (the first in their order), or None."""
    return next((t for t, g in grades.items() if g >= 2), None)


def report() -> dict[str, dict[str, float]]:
    out = {}
    for name, graded in GRADED.items():
        second = second_grades(AGREEMENT / name)
        cases = [c for c in load_file(graded, "agendas") if c["id"] in second]
        reverse = [topic_fit({"topic_id": best_topic(grades_of(c))},
                             {t: float(g) for t, g in second[c["id"]]["topic_grades"].items()})
                   for c in cases]
        out[name] = {"cases": len(cases), "second_main_fits_first": human_main_fit(cases, second),
                     "first_best_fits_second": sum(reverse) / len(reverse),
                     "no_topic_first": sum(best_topic(grades_of(c)) is None for c in cases),
                     "no_topic_second": sum(second[c["id"]]["main"] is None for c in cases)}
    return out


if __name__ == "__main__":
    for name, figures in report().items():
        print(f"{name}: {figures['cases']} cases; the second annotator's main topic fits the "
              f"first's grades in {figures['second_main_fits_first']:.3f}, the first's best topic "
              f"fits the second's in {figures['first_best_fits_second']:.3f}; no topic serves a "
              f"goal in {figures['no_topic_first']} (first) and {figures['no_topic_second']} (second)")
