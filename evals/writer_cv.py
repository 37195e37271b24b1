"""Leave-one-writer-out cross-validation of the reader's reflection-level models.

The models that read a whole reflection (sentiment, which clauses are blockers, the ending and
disengaged thresholds) learn from the training reflections of nine blind writers
(coach/reader/training.py). Dev has 85 reflections, so one or two of them move its figures;
this scores the shipped settings on each writer's reflections with the models refitted on the
other writers' only, and pools the counts. The sentence classifiers stay as shipped (they learn
from train/sentences.jsonl, not from these reflections). Dev and test are never read here.

    .venv/bin/python -m evals.writer_cv
"""

from __future__ import annotations

import copy
from collections import defaultdict
from functools import lru_cache

import numpy as np

from coach.reader.language import default_embed
from coach.reader.model import SENTIMENTS, LabelModel
from coach.reader.reader import Labelled, Reader
from coach.reader.training import _train_blockers, _train_sentiment, training_reflections
from evals.metrics import classification, match_items, prf


def writer_of(reflection: dict) -> str:
    """The writer's letter: ids are ar01, br01, ... ir60 (see evals/datasets/README.md)."""
    return reflection["id"][0]


def cross_validate() -> dict[str, object]:
    shipped = LabelModel.load()
    base = default_embed()

    @lru_cache(maxsize=None)
    def one(text: str) -> tuple[float, ...]:
        return tuple(base([text])[0])

    def embed(texts):  # every fold reads the held-out reflections again: vectors are kept
        return np.asarray([one(t) for t in texts], dtype=np.float32).reshape(len(texts), -1)

    # the sentence classifiers are the shipped ones in every fold: one parse per reflection
    labeller = Reader(shipped, embed)
    by_writer: dict[str, list[tuple[dict, Labelled]]] = defaultdict(list)
    for r in training_reflections():
        by_writer[writer_of(r)].append((r, labeller.labelled(r["text"])))
    counts = np.zeros(3)
    gold_sentiment, said_sentiment = [], []
    flags = {k: np.zeros(3) for k in ("ending", "disengaged")}
    per_writer = {}
    for writer, held_out in sorted(by_writer.items()):
        model = copy.deepcopy(shipped)
        rest = [pair for w, pairs in by_writer.items() if w != writer for pair in pairs]
        reader = Reader(model, embed)
        _train_sentiment(model, reader, rest)
        _train_blockers(model, rest)
        mine = np.zeros(3)
        for r, _ in held_out:
            reading = reader.read(r["text"], r.get("author_role", "mentee"))
            gold = r["gold"].get("blockers", [])
            mine += [len(reading.blockers), len(gold), len(match_items(reading.blockers, gold))]
            gold_sentiment.append(r["gold"]["sentiment"])
            said_sentiment.append(reading.sentiment)
            for label in flags:
                if label in r["gold"]:
                    said, truth = getattr(reading, label), bool(r["gold"][label])
                    flags[label] += [said, truth, said and truth]
        counts += mine
        per_writer[writer] = round(prf(*mine)["f1"], 3)
    return {
        "reflections": len(gold_sentiment), "writers": len(by_writer),
        "blockers": {k: round(v, 3) for k, v in prf(*counts).items()},
        "blockers_f1_by_writer": per_writer,
        "sentiment_macro_f1": round(float(classification(gold_sentiment, said_sentiment,
                                                         SENTIMENTS)["macro_f1"]), 3),
        **{f"{label}_f1": round(prf(*c)["f1"], 3) for label, c in flags.items()},
    }


if __name__ == "__main__":
    import json

    print(json.dumps(cross_validate(), indent=2))
