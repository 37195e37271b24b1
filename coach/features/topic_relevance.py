"""How well each catalogue topic serves a pair's goals: a small model fitted on graded topic
cases written blind (evals/datasets/train/topics-*.jsonl, section 5 of evals/ANNOTATION.md).

The features are MiniLM similarities between each goal and a topic's parts (its whole text,
title and description, title, conversation starters, activity: the best goal and the mean over
goals), the similarity of all the goals together to the topic, the keyword search score, and
each of these less the best value among the topics (how far behind the pair's best topic it
is). Two logistic regressions read them: "serves or is useful" (grade 1 or 2) and "serves a
goal directly" (grade 2). Relevance is the mean of the two probabilities, in 0..1.

Beside the regressions, the train cases themselves vote (``TopicRelevance.neighbours``): the
cases whose goals come closest to the pair's, weighted by how close, give their grades to the
topics. The 75 topics are the same in every case, so "pairs with goals like these were served by
that topic" carries what the similarities of short texts miss. Relevance is the regressions'
probability and that vote, mixed by NEIGHBOUR_WEIGHT.

Fit with ``python -m evals.calibrate relevance`` (about a minute), which writes
coach/features/topic_relevance.json with a fingerprint of the data it learnt from.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from coach.features.catalogue import Topic
from coach.features.covered_notes import PACKAGED as COVERED_MODEL_PATH
from coach.features.covered_notes import CoveredModel, Exemplar, aliases_in, note_features, shared_words

MODEL_PATH = Path(__file__).with_name("topic_relevance.json")
TRAIN_DIR = Path(__file__).resolve().parents[2] / "evals" / "datasets" / "train"
TRAIN_FILES = tuple(TRAIN_DIR / name for name in ("topics-x.jsonl", "topics-y.jsonl"))
EXEMPLAR_FILES = TRAIN_FILES + tuple(TRAIN_DIR / name
                                     for name in ("agendas-x.jsonl", "agendas-y.jsonl"))
# The vote of the train cases nearest the pair's goals (see the module's docstring): how many
# cases vote, how sharply closeness weighs (similarity ** power), and the vote's share of the
# relevance. The weight is chosen on the train agenda cases, each left out of its own vote
# (python -m evals.calibrate agenda); the count and power were set by hand on the dev cases.
NEIGHBOURS, NEIGHBOUR_POWER, NEIGHBOUR_WEIGHT = 10, 4, 0.25
KEYWORD_HITS = 40
# The model reads one embedder's similarities: it records that embedder's vector for this
# sentence and is used only beside an embedder that gives the same.
PROBE = "A junior employee mentors a senior leader on technology."


def topic_parts(topic: Topic) -> list[str]:
    return [topic.text, f"{topic.title}. {topic.description}", topic.title,
            " ".join(topic.starters) or topic.title, topic.activity or topic.title]


def _unit(m: np.ndarray) -> np.ndarray:
    return m / np.maximum(np.linalg.norm(m, axis=-1, keepdims=True), 1e-9)


def features(goals: np.ndarray, joint: np.ndarray, parts: np.ndarray, keyword: np.ndarray
             ) -> np.ndarray:
    """One row per topic. ``goals``: unit goal vectors (g x d); ``joint``: the unit vector of
    all goals together (d); ``parts``: unit vectors of each topic's parts (t x p x d);
    ``keyword``: the best keyword search score per topic (t)."""
    per_goal = np.einsum("gd,tpd->tpg", goals, parts)  # t x p x g
    cols = [per_goal.max(2), per_goal.mean(2), (parts[:, :2] @ joint), keyword[:, None]]
    x = np.concatenate(cols, axis=1)
    return np.concatenate([x, x - x.max(0, keepdims=True)], axis=1)


def data_fingerprint(paths: Sequence[Path] = EXEMPLAR_FILES) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class RelevanceModel:
    mean: np.ndarray
    scale: np.ndarray
    useful: tuple[np.ndarray, float]
    serves: tuple[np.ndarray, float]
    probe: np.ndarray | None = None
    exemplars: tuple[dict, ...] = ()  # {"case", "goals", "grades"} of each train case

    def score(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.mean) / self.scale
        p = [1 / (1 + np.exp(-(z @ w + b))) for w, b in (self.useful, self.serves)]
        return (p[0] + p[1]) / 2

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> RelevanceModel:
        data = json.loads(path.read_text(encoding="utf-8"))
        arr = lambda k: np.asarray(data[k], dtype=np.float64)  # noqa: E731
        return cls(arr("mean"), arr("scale"), (arr("useful_coef"), float(data["useful_intercept"])),
                   (arr("serves_coef"), float(data["serves_intercept"])), arr("probe"),
                   tuple(data.get("exemplars") or ()))

    def fits(self, embedder) -> bool:
        """Whether ``embedder`` is the one the model learnt from."""
        if self.probe is None:
            return False
        v = np.asarray(embedder.embed_documents([PROBE])[0], dtype=np.float64)
        return v.shape == self.probe.shape and float(_unit(v) @ _unit(self.probe)) > 0.99


class TopicRelevance:
    """Scores topics for a pair's goals; the topics' vectors are computed once per catalogue.
    Built once per container (``for_embedder``) and shared by every request."""

    def __init__(self, embedder, model: RelevanceModel):
        self.embedder = embedder
        self.model = model
        self._lock = threading.Lock()
        self._key: tuple[str, ...] | None = None
        self._parts = np.zeros((0, 5, 1))
        self._aliases: list[np.ndarray] = []  # unit vectors of each topic's aliases
        self._exemplar_goals: list[np.ndarray] | None = None
        self._exemplar_notes: tuple[tuple[str, ...], np.ndarray] = ((), np.zeros((0, 1)))
        # case ids of exemplars that do not vote: leave-one-out when a case is itself one of them
        # (evals.calibrate); empty in use
        self.held_out: set[str] = set()

    @classmethod
    def for_embedder(cls, embedder) -> TopicRelevance | None:
        """The shipped model beside ``embedder``, or None when it learnt from another one."""
        model = RelevanceModel.load()
        return cls(embedder, model) if model.fits(embedder) else None

    @cached_property
    def covered(self) -> CoveredModel | None:
        """The model that tells which topics a note of what a pair covered refers to
        (coach.features.covered_notes), fitted beside the same embedder; read when first
        needed, so that fitting it needs only this one."""
        return CoveredModel.load() if COVERED_MODEL_PATH.exists() else None

    def prepare(self, topics: list[Topic]) -> None:
        """Embed the catalogue's topics and the exemplars' goals now rather than on the first
        request."""
        self._topic_vectors(topics)
        self._exemplar_vectors()

    def _exemplar_vectors(self) -> list[np.ndarray]:
        with self._lock:
            if self._exemplar_goals is None:
                goals = [list(e["goals"]) for e in self.model.exemplars]
                flat = [g for group in goals for g in group]
                vectors = _unit(np.asarray(self.embedder.embed_documents(flat), dtype=np.float64)) \
                    if flat else np.zeros((0, 1))
                bounds = np.cumsum([0] + [len(group) for group in goals])
                self._exemplar_goals = [vectors[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
            return self._exemplar_goals

    def neighbours(self, goal_vectors: np.ndarray) -> dict[str, float]:
        """The nearest train cases' vote for each topic, in 0..1: a case's closeness is how near
        each of the pair's goals comes to one of its goals, on average."""
        exemplars = self._exemplar_vectors()
        closeness = sorted(
            ((float((goal_vectors @ vectors.T).max(1).mean()), i)
             for i, vectors in enumerate(exemplars)
             if len(vectors) and self.model.exemplars[i]["case"] not in self.held_out),
            reverse=True)[:NEIGHBOURS]
        votes: dict[str, float] = {}
        total = sum(max(c, 0.0) ** NEIGHBOUR_POWER for c, _ in closeness) * 2 or 1.0
        for c, i in closeness:
            for topic_id, grade in self.model.exemplars[i]["grades"].items():
                votes[topic_id] = votes.get(topic_id, 0.0) + max(c, 0.0) ** NEIGHBOUR_POWER * grade / total
        return votes

    def note_feature_rows(self, notes: list[str], topics: list[Topic],
                          exemplars: Sequence[Exemplar] | None = None) -> np.ndarray:
        """The covered model's features for each note and topic (n x t x f). ``exemplars``:
        the train notes that vote (default: the covered model's), less those of the cases in
        ``held_out``."""
        parts, alias_vectors = self._catalogue_vectors(topics)
        vectors = _unit(np.asarray(self.embedder.embed_documents(notes), dtype=np.float64))
        if exemplars is None:
            exemplars = self.covered.exemplars if self.covered is not None else ()
        voting = [e for e in exemplars if e.case not in self.held_out]
        index = {t.id: i for i, t in enumerate(topics)}
        like = np.zeros((len(notes), len(topics)))
        if voting:
            sims = vectors @ self._note_vectors(tuple(e.note for e in voting)).T
            for k, e in enumerate(voting):
                if e.topic in index:
                    i = index[e.topic]
                    like[:, i] = np.maximum(like[:, i], sims[:, k])
        near_alias = np.zeros((len(notes), len(topics)))
        for i, a in enumerate(alias_vectors):
            if len(a):
                near_alias[:, i] = (vectors @ a.T).max(axis=1)
        aliases = np.stack([near_alias, aliases_in(notes, topics)], axis=2)
        return note_features(vectors, parts, shared_words(notes, topics), like, aliases)

    def _note_vectors(self, notes: tuple[str, ...]) -> np.ndarray:
        with self._lock:
            if self._exemplar_notes[0] != notes:
                self._exemplar_notes = (notes, _unit(np.asarray(
                    self.embedder.embed_documents(list(notes)), dtype=np.float64)))
            return self._exemplar_notes[1]

    def named_by_notes(self, notes: list[str], topics: list[Topic]) -> set[str] | None:
        """The topics that notes of what a pair covered refer to, by the covered model; None
        without one."""
        if self.covered is None:
            return None
        notes = [n for n in notes if n.strip()]
        if not notes or not topics:
            return set()
        p = self.covered.probability(self.note_feature_rows(notes, topics))
        return {topics[i].id for i in np.flatnonzero((p >= self.covered.threshold).any(axis=0))}

    def _topic_vectors(self, topics: list[Topic]) -> np.ndarray:
        return self._catalogue_vectors(topics)[0]

    def _catalogue_vectors(self, topics: list[Topic]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Unit vectors of each topic's parts (t x 5 x d) and of its aliases."""
        key = tuple(f"{t.id}:{hash(t.text)}:{hash(t.aliases)}" for t in topics)
        with self._lock:
            if key != self._key:
                texts = [p for t in topics for p in topic_parts(t)]
                texts += [a for t in topics for a in t.aliases]
                vectors = _unit(np.asarray(self.embedder.embed_documents(texts), dtype=np.float64))
                self._parts = vectors[:5 * len(topics)].reshape(len(topics), 5, -1)
                bounds = np.cumsum([5 * len(topics)] + [len(t.aliases) for t in topics])
                self._aliases = [vectors[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
                self._key = key
            return self._parts, self._aliases

    def feature_rows(self, goals: list[str], topics: list[Topic], search) -> np.ndarray:
        """``search``: (query, k) -> topic hits with metadata["topic_id"] and a score."""
        return self._rows(goals, topics, search)[0]

    def _rows(self, goals: list[str], topics: list[Topic], search
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The feature rows, each topic's similarity to each goal (t x g), and the goals' unit
        vectors."""
        parts = self._topic_vectors(topics)
        vectors = _unit(np.asarray(self.embedder.embed_documents([*goals, " ; ".join(goals)]),
                                   dtype=np.float64))
        index = {t.id: i for i, t in enumerate(topics)}
        keyword = np.zeros(len(topics))
        for goal in goals:
            for hit in search(goal, KEYWORD_HITS):
                i = index.get(str(hit.metadata.get("topic_id", "")))
                if i is not None:
                    keyword[i] = max(keyword[i], hit.score)
        per_goal = np.einsum("gd,td->tg", vectors[:-1], parts[:, 0])
        return features(vectors[:-1], vectors[-1], parts, keyword), per_goal, vectors[:-1]

    def scores(self, goals: list[str], topics: list[Topic], search) -> dict[str, tuple[float, str]]:
        """Each topic's relevance (0..1) and the goal closest to its whole text."""
        if not goals or not topics:
            return {}
        x, per_goal, goal_vectors = self._rows(goals, topics, search)
        relevance, closest = self.model.score(x), np.argmax(per_goal, 1)
        votes = self.neighbours(goal_vectors)
        weight = NEIGHBOUR_WEIGHT if self.model.exemplars else 0.0
        return {t.id: ((float(relevance[i]) + weight * votes.get(t.id, 0.0)) / (1 + weight),
                       goals[int(closest[i])]) for i, t in enumerate(topics)}


def fit(relevance: TopicRelevance, cases: list[dict], topics: dict[str, Topic], search) -> dict:
    """Fits the two regressions on graded cases; returns the JSON the model is saved as."""
    from sklearn.linear_model import LogisticRegression

    rows, grades = [], []
    listed = sorted(topics.values(), key=lambda t: t.id)
    for case in cases:
        pair = case.get("pair") or {}
        goals = list(pair.get("goals") or []) or list(pair.get("focus") or [])
        gold = case.get("gold") or {}
        graded, covered = gold.get("grades") or {}, set(gold.get("covered_ids") or [])
        x = relevance.feature_rows(goals, listed, search)
        for i, topic in enumerate(listed):
            # a covered topic is graded 0 for being covered, not for missing the goals; a
            # topic outside the focus only counts where the writer graded it
            if topic.id in covered or (topic.focus not in pair.get("focus", []) and topic.id not in graded):
                continue
            rows.append(x[i])
            grades.append(int(graded.get(topic.id, 0)))
    x, y = np.asarray(rows), np.asarray(grades)
    mean, scale = x.mean(0), x.std(0) + 1e-9
    z = (x - mean) / scale
    out = {"features": int(x.shape[1]), "examples": int(len(y)), "cases": len(cases),
           "mean": mean.round(6).tolist(), "scale": scale.round(6).tolist(),
           "data": data_fingerprint(),
           "probe": np.asarray(relevance.embedder.embed_documents([PROBE])[0]).round(6).tolist()}
    out["exemplars"] = exemplars()
    for name, target in (("useful", y >= 1), ("serves", y >= 2)):
        reg = LogisticRegression(C=0.1, max_iter=5000, class_weight="balanced").fit(z, target)
        out[f"{name}_coef"] = reg.coef_[0].round(6).tolist()
        out[f"{name}_intercept"] = round(float(reg.intercept_[0]), 6)
    return out


def exemplars(paths: Sequence[Path] = EXEMPLAR_FILES) -> list[dict]:
    """The train topic and agenda cases as the vote reads them: their goals and grades."""
    out = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            case = json.loads(line)
            pair, gold = case.get("pair") or {}, case.get("gold") or {}
            goals = list(pair.get("goals") or []) or list(pair.get("focus") or [])
            grades = gold.get("grades", gold.get("topic_grades")) or {}
            if goals:
                out.append({"case": case["id"], "goals": goals,
                            "grades": {t: int(g) for t, g in grades.items()}})
    return out
