"""The fitted topic relevance model: shipped from its training data, read the same way it
was fitted, and used only beside the embedder it learnt from."""

import json

import numpy as np
import pytest

from coach.adapters.fakes import HashingEmbedder
from coach.features.topic_relevance import MODEL_PATH, RelevanceModel, data_fingerprint, features


def test_the_shipped_model_was_fitted_on_the_committed_training_cases():
    meta = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    assert meta["data"] == data_fingerprint(), \
        "training cases changed: run python -m coach.features.topic_relevance"
    assert meta["cases"] >= 100 and len(meta["useful_coef"]) == meta["features"]


def test_features_by_hand():
    goals = np.array([[1.0, 0.0], [0.0, 1.0]])
    joint = np.array([1.0, 0.0])
    parts = np.stack([np.tile([1.0, 0.0], (5, 1)), np.tile([0.0, 1.0], (5, 1))])  # 2 topics
    x = features(goals, joint, parts, np.array([0.2, 0.6]))
    assert x.shape == (2, 26)
    assert list(x[0, :5]) == [1.0] * 5 and list(x[0, 5:10]) == [0.5] * 5  # best goal, mean
    assert list(x[:, 10]) == [1.0, 0.0] and list(x[:, 12]) == [0.2, 0.6]  # joint, keyword
    assert list(x[:, 25]) == [pytest.approx(-0.4), 0.0]  # behind the best topic


def test_the_model_stands_aside_beside_another_embedder():
    assert not RelevanceModel.load().fits(HashingEmbedder())


def test_the_nearest_train_cases_vote_for_the_topics_that_served_them():
    from coach.features.topic_relevance import TopicRelevance, _unit

    embedder = HashingEmbedder()
    cases = ({"case": "near", "goals": ["spot phishing emails aimed at the finance team"],
              "grades": {"tech-phishing": 2, "tech-security-habits": 1}},
             {"case": "far", "goals": ["understand how gen z thinks about pensions"],
              "grades": {"gen-money-pressures": 2}})
    model = RelevanceModel(np.zeros(1), np.ones(1), (np.zeros(1), 0.0), (np.zeros(1), 0.0),
                           exemplars=cases)
    relevance = TopicRelevance(embedder, model)
    goal = _unit(np.asarray(embedder.embed_documents(["spot phishing emails aimed at finance"])))
    votes = relevance.neighbours(goal)
    assert votes["tech-phishing"] > votes["tech-security-habits"] > votes.get("gen-money-pressures", 0)
    assert 0 < votes["tech-phishing"] <= 1
    relevance.held_out = {"near"}  # a case left out of its own vote
    assert "tech-phishing" not in relevance.neighbours(goal)
