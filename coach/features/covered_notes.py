"""Which catalogue topics a pair's notes of what it has covered refer to, as people jot them
down ("did the captions thing", "tour of TikTok and Instagram"): a logistic regression over
each (note, topic) pair, fitted on the notes of the blind train topic cases and the topics
their writers judged them to cover (evals/datasets/train/topics-*.jsonl, ``covered_ids``).

The features are MiniLM similarities between the note and each of the topic's parts
(coach.features.topic_relevance.topic_parts), the topic's rank among all topics for the note
and its margin over the nearest other one, how much of the note's words (weighted by how
rare each is among the topics) the topic's title and description, and its whole text, contain,
and how close the note comes to one of the topic's aliases (other ways people name it, "WFH",
"ChatGPT", from the topic's front matter) or contains one.
Beside them, the train notes vote: how close the note comes to a train note that its writer
judged to name the topic (``CoveredModel.exemplars``; the 75 topics are the same everywhere, so
"a note like this one named that topic" carries what the similarity of short texts misses). Fit with
``python -m evals.calibrate covered``, which writes coach/features/covered_model.json and prints
the cross-validated figures on train and the dev figures beside the nearest-topic rule.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from coach.features.catalogue import Topic
from coach.generation.logistic import LogisticModel
from coach.text.tokens import tokenize

PACKAGED = Path(__file__).resolve().parent / "covered_model.json"
FEATURES = ("whole", "title_description", "title", "starters", "activity", "rank", "margin",
            "words_in_title", "words_in_text", "like_a_train_note", "like_an_alias",
            "alias_in_note")
MAX_RANK = 5  # ranks beyond this read the same: far from the note


def shared_words(notes: Sequence[str], topics: Sequence[Topic]) -> np.ndarray:
    """n x t x 2: the share of each note's words found in each topic's title and description,
    and in its whole text, each word weighted by its rarity among the topics (idf)."""
    heads = [set(tokenize(f"{t.title}. {t.description}")) for t in topics]
    texts = [set(tokenize(t.text)) | head for t, head in zip(topics, heads)]
    out = np.zeros((len(notes), len(topics), 2))
    for n, note in enumerate(notes):
        words = set(tokenize(note))
        weight = {w: math.log((1 + len(topics)) / (1 + sum(w in t for t in texts))) + 1
                  for w in words}
        total = sum(weight.values()) or 1.0
        for i, (head, text) in enumerate(zip(heads, texts)):
            out[n, i] = (sum(weight[w] for w in words & head) / total,
                         sum(weight[w] for w in words & text) / total)
    return out


def aliases_in(notes: Sequence[str], topics: Sequence[Topic]) -> np.ndarray:
    """n x t: 1 where all the words of one of the topic's aliases are in the note ("WFH debate"
    and the alias "WFH")."""
    said = [[set(words) for words in map(tokenize, t.aliases) if words] for t in topics]
    out = np.zeros((len(notes), len(topics)))
    for n, note in enumerate(notes):
        words = set(tokenize(note))
        for i, aliases in enumerate(said):
            out[n, i] = any(alias <= words for alias in aliases)
    return out


def note_features(notes: np.ndarray, parts: np.ndarray, words: np.ndarray,
                  exemplars: np.ndarray, aliases: np.ndarray) -> np.ndarray:
    """``notes``: unit note vectors (n x d); ``parts``: unit vectors of each topic's parts
    (t x 5 x d); ``words``: shared_words (n x t x 2); ``exemplars``: each note's highest
    similarity to a train note naming each topic (n x t); ``aliases``: each note's highest
    similarity to one of the topic's aliases, and aliases_in (n x t x 2). Returns
    n x t x len(FEATURES)."""
    sims = np.einsum("nd,tpd->ntp", notes, parts)
    whole = sims[:, :, 0]
    rank = np.argsort(np.argsort(-whole, axis=1), axis=1)
    ordered = -np.sort(-whole, axis=1)
    runner_up = np.where(rank == 0, ordered[:, 1:2] if whole.shape[1] > 1 else ordered[:, :1],
                         ordered[:, :1])
    return np.concatenate([sims, np.minimum(rank, MAX_RANK)[..., None],
                           (whole - runner_up)[..., None], words, exemplars[..., None], aliases],
                          axis=2)


@dataclass(frozen=True)
class Exemplar:
    """A train note and the topic its writer judged it to name."""

    case: str
    note: str
    topic: str


@dataclass(frozen=True)
class CoveredModel(LogisticModel):
    exemplars: tuple[Exemplar, ...] = ()  # the train notes that vote

    FEATURES = FEATURES
    FIT_COMMAND = "python -m evals.calibrate covered"

    @classmethod
    def load(cls, path: Path = PACKAGED) -> CoveredModel:
        return super().load(path)

    @classmethod
    def _read_extra(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {"exemplars": tuple(Exemplar(**e) for e in data.get("exemplars") or ())}

    def _extra(self) -> dict[str, Any]:
        return {"exemplars": [vars(e) for e in self.exemplars]}
