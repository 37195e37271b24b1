"""Leave-one-writer-out cross-validation of the reader's reflection-level models.

The models that read a whole reflection (sentiment, the ending and disengaged thresholds) learn
from the training reflections of eight blind writers (A, B, D-I: coach/reader/training.py).
Dev has 85 reflections, so one or two of them move its figures; this scores the shipped
settings on each writer's reflections with the models refitted on the other writers' only,
and pools the counts. The ending, disengaged and obstacle classifiers also learn from the
reflections (as multiple instances, INSTANCE_LABELS), so they and the reflection thresholds
are refitted in each fold too (a clause, or else its whole sentence, names a blocker by its
obstacle probability, with the shipped BLOCKER_THRESHOLD); the other sentence classifiers and
every sentence threshold stay as shipped (they learn from train/sentences.jsonl alone). Dev and test
are never read here.

    .venv/bin/python -m evals.writer_cv
"""

from __future__ import annotations

import copy
from collections import defaultdict
from functools import cache

import numpy as np

from coach.reader.language import training_embed
from coach.reader.model import SENTIMENTS, LabelModel
from coach.reader.reader import Reader
from coach.reader.training import (
    INSTANCE_LABELS,
    REFLECTION_LABELS,
    C,
    Sentences,
    _train_sentiment,
    domain_examples,
    featurise,
    instances,
    reflection_threshold,
    reflection_units,
    sentences_alone,
    training_reflections,
    writer_held_out_tops,
    writer_of,
)
from evals.metrics import classification, match_items, prf


def cross_validate() -> dict[str, object]:
    shipped = LabelModel.load()
    base = training_embed()

    @cache
    def one(text: str) -> tuple[float, ...]:
        return tuple(base([text])[0])

    def embed(texts):  # every fold reads the held-out reflections again: vectors are kept
        return np.asarray([one(t) for t in texts], dtype=np.float32).reshape(len(texts), -1)

    class Parsed(Reader):  # each fold reads the reflections with its own model: parse once
        @cache  # noqa: B019 - one reader, gone with this function
        def units(self, text):
            return super().units(text)

    parsed = Parsed(shipped, embed)
    reflections = training_reflections()
    examples = domain_examples()
    z = (featurise([e.text for e in examples], embed) - shipped.mean) / shipped.scale
    units = reflection_units(reflections, parsed, shipped.mean, shipped.scale)
    sentences = {label: Sentences(z, np.asarray([label in e.labels for e in examples], int),
                                  np.ones(len(examples))) for label in INSTANCE_LABELS}
    bases = {label: sentences_alone(label, known, C) for label, known in sentences.items()}
    by_writer: dict[str, list[dict]] = defaultdict(list)
    for r in reflections:
        by_writer[writer_of(r)].append(r)
    counts = np.zeros(3)
    gold_sentiment, said_sentiment = [], []
    flags = {k: np.zeros(3) for k in REFLECTION_LABELS}
    per_writer = {}
    for writer, held_out in sorted(by_writer.items()):
        model = copy.deepcopy(shipped)
        rest_units = [u for u in units if writer_of(u[0]) != writer]
        for label, known in sentences.items():
            row = model.labels.index(label)
            fitted = known.fit(C, instances(label, bases[label], rest_units))
            model.coef[row], model.intercept[row] = fitted.coef_[0], fitted.intercept_[0]
            if label not in REFLECTION_LABELS:
                continue
            tops, truth = writer_held_out_tops(label, known, bases[label], rest_units, C)
            model.reflection_thresholds[label] = reflection_threshold(
                label, model.thresholds[label], tops, truth)
        reader = Reader(model, embed)
        reader.units = parsed.units
        rest = [(r, reader.labelled(r["text"])) for w, rs in by_writer.items() if w != writer
                for r in rs]
        _train_sentiment(model, reader, rest)
        mine = np.zeros(3)
        for r in held_out:
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
