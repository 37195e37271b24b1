"""The covered model: which catalogue topics a pair's notes of what it covered refer to.
Shipped from its training notes, read the way it was fitted, and used only where the topic
relevance model (and so the embedder it learnt beside) is."""

import json

import numpy as np
import pytest

from coach.adapters.fakes import HashingEmbedder
from coach.features.catalogue import Topic
from coach.features.covered_notes import (
    FEATURES,
    PACKAGED,
    CoveredModel,
    Exemplar,
    note_features,
    shared_words,
)
from coach.features.topic_relevance import TRAIN_FILES, RelevanceModel, TopicRelevance, data_fingerprint


def _topic(tid: str, title: str, description: str, starter: str = "",
           aliases: tuple[str, ...] = ()) -> Topic:
    return Topic(id=tid, title=title, focus="technology", level="intro",
                 description=description, starters=(starter,) if starter else (), activity="",
                 related=(), source=f"knowledge/topics/{tid}.md", aliases=aliases)


TOPICS = [_topic("tech-phishing", "Spotting phishing", "Fake invoices and urgent emails."),
          _topic("tech-captions", "Captioning videos", "Captions for every video.",
                 "Could a caption file hide a phishing link?", aliases=("subtitles", "live CC"))]


def test_the_shipped_model_was_fitted_on_the_committed_training_notes():
    meta = json.loads(PACKAGED.read_text(encoding="utf-8"))
    assert meta["meta"]["data"] == data_fingerprint(TRAIN_FILES), \
        "training cases changed: run python -m evals.calibrate covered"
    model = CoveredModel.load()
    assert len(model.coef) == len(FEATURES) and 0 < model.threshold < 1
    assert len(model.exemplars) >= 50
    assert all(e.topic.startswith(("tech-", "gen-", "inc-")) and e.note for e in model.exemplars)


def test_words_are_weighed_by_how_rare_they_are_among_the_topics():
    words = shared_words(["the phishing invoice"], TOPICS)
    # "phishing" is in both topics' text, "invoice" only in the first one's description
    assert words.shape == (1, 2, 2)
    assert words[0, 0, 0] == pytest.approx(1.0) and words[0, 0, 1] == pytest.approx(1.0)
    assert 0 < words[0, 1, 1] < words[0, 0, 1] and words[0, 1, 0] == 0.0


def test_features_by_hand():
    note = np.array([[1.0, 0.0]])
    parts = np.stack([np.tile([1.0, 0.0], (5, 1)), np.tile([0.6, 0.8], (5, 1))])
    x = note_features(note, parts, np.zeros((1, 2, 2)), np.array([[0.0, 0.9]]),
                      np.array([[[0.0, 0.0], [0.7, 1.0]]]))
    assert x.shape == (1, 2, len(FEATURES))
    assert list(x[0, :, FEATURES.index("whole")]) == [1.0, 0.6]
    assert list(x[0, :, FEATURES.index("rank")]) == [0, 1]
    assert list(x[0, :, FEATURES.index("margin")]) == [pytest.approx(0.4), pytest.approx(-0.4)]
    assert list(x[0, :, FEATURES.index("like_a_train_note")]) == [0.0, 0.9]
    assert list(x[0, :, FEATURES.index("like_an_alias")]) == [0.0, 0.7]
    assert list(x[0, :, FEATURES.index("alias_in_note")]) == [0.0, 1.0]


def test_a_note_that_uses_one_of_a_topics_aliases_is_close_to_it():
    relevance = TopicRelevance(HashingEmbedder(), RelevanceModel(
        np.zeros(1), np.ones(1), (np.zeros(1), 0.0), (np.zeros(1), 0.0)))
    x = relevance.note_feature_rows(["Subtitles", "the live CC on Teams"], TOPICS, ())
    named, near = FEATURES.index("alias_in_note"), FEATURES.index("like_an_alias")
    assert x[:, :, named].tolist() == [[0.0, 1.0], [0.0, 1.0]]
    assert x[0, 1, near] == pytest.approx(1.0) and x[0, 0, near] == 0.0  # no aliases: 0


def test_round_trip_and_refusal_of_other_features(tmp_path):
    model = CoveredModel(np.zeros(len(FEATURES)), np.ones(len(FEATURES)),
                         np.arange(len(FEATURES), dtype=float), -1.0, 0.3,
                         (Exemplar("tp-1", "did the phishing quiz", "tech-phishing"),))
    path = tmp_path / "covered.json"
    model.save(path, {"data": "x"})
    again = CoveredModel.load(path)
    assert again.exemplars == model.exemplars and again.threshold == 0.3
    assert np.allclose(again.coef, model.coef)
    data = json.loads(path.read_text())
    data["features"] = data["features"][:-1]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="calibrate covered"):
        CoveredModel.load(path)


def test_a_note_like_a_train_note_votes_for_its_topic_unless_its_case_is_held_out():
    embedder = HashingEmbedder()
    placeholder = RelevanceModel(np.zeros(1), np.ones(1), (np.zeros(1), 0.0), (np.zeros(1), 0.0))
    relevance = TopicRelevance(embedder, placeholder)
    votes = (Exemplar("tp-1", "went through the fake invoice emails", "tech-captions"),)
    like = FEATURES.index("like_a_train_note")
    x = relevance.note_feature_rows(["went through the fake invoice emails"], TOPICS, votes)
    assert x[0, 1, like] == pytest.approx(1.0) and x[0, 0, like] == 0.0
    relevance.held_out = {"tp-1"}
    x = relevance.note_feature_rows(["went through the fake invoice emails"], TOPICS, votes)
    assert x[0, 1, like] == 0.0


def test_the_model_decides_which_topics_notes_name():
    embedder = HashingEmbedder()
    placeholder = RelevanceModel(np.zeros(1), np.ones(1), (np.zeros(1), 0.0), (np.zeros(1), 0.0))
    relevance = TopicRelevance(embedder, placeholder)
    coef = np.zeros(len(FEATURES))
    coef[FEATURES.index("words_in_title")] = 10.0  # named when the note's words are in its title
    relevance.covered = CoveredModel(np.zeros(len(FEATURES)), np.ones(len(FEATURES)), coef,
                                     -5.0, 0.5)
    assert relevance.named_by_notes(["the phishing invoice one"], TOPICS) == {"tech-phishing"}
    assert relevance.named_by_notes(["   "], TOPICS) == set()
    relevance.covered = None
    assert relevance.named_by_notes(["the phishing invoice one"], TOPICS) is None
