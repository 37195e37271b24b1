"""Every metric against hand-computed values."""

import json
import math

import pytest

from evals.agendas import AGREEMENT, check_agenda, fits_within, human_main_fit, second_grades, topic_fit
from evals.chat import citation_counts, is_gold
from evals.faithfulness import rates
from evals.metrics import (
    bootstrap_interval,
    classification,
    cosine_matrix,
    match_items,
    mean_defined,
    micro_prf,
    ndcg,
    percentile,
    prf,
    token_f1,
    with_interval,
)
from evals.reflections import faithfulness, recall_of
from evals.retrieval import first_hit_rank, retrieval_metrics
from evals.runner import check_thresholds
from evals.topics import diverse, score


def test_retrieval_metrics_by_hand():
    ranks = [1, 3, None, 5, 2]
    m = retrieval_metrics(ranks)
    assert m["hit@1"] == pytest.approx(1 / 5)
    assert m["hit@3"] == pytest.approx(3 / 5)
    assert m["hit@5"] == pytest.approx(4 / 5)
    assert m["mrr"] == pytest.approx((1 + 1 / 3 + 0 + 1 / 5 + 1 / 2) / 5)
    assert first_hit_rank(["alpha", "The Answer here"], ["answer"]) == 2
    assert first_hit_rank(["alpha"], ["beta"]) is None


def test_token_f1_by_hand():
    # tokens: {try, meeting, assistant} vs {try, assistant, twice}: 2 common; P=2/3, R=2/3
    assert token_f1("try the meeting assistant", "try the assistant twice") == pytest.approx(2 / 3)
    assert token_f1("", "anything") == 0.0


def test_one_to_one_matching_and_prf():
    predicted = ["send the guide", "send the guide again", "book a room"]
    gold = ["send the guide", "call the bank"]
    pairs = match_items(predicted, gold)
    assert [(i, j) for i, j, _ in pairs] == [(0, 0)]  # the duplicate cannot reuse gold 0
    assert prf(3, 2, 1) == pytest.approx({"precision": 1 / 3, "recall": 1 / 2, "f1": 0.4})
    assert prf(0, 0, 0) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert prf(2, 0, 0)["precision"] == 0.0
    assert micro_prf([(3, 2, 1), (1, 2, 1)]) == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5})


def test_classification_by_hand():
    gold = ["healthy", "at_risk", "stalled", "stalled", "healthy"]
    pred = ["healthy", "stalled", "stalled", "at_risk", "at_risk"]
    m = classification(gold, pred, ["healthy", "at_risk", "stalled"])
    assert m["accuracy"] == pytest.approx(2 / 5)
    assert m["stalled.precision"] == pytest.approx(1 / 2)
    assert m["stalled.recall"] == pytest.approx(1 / 2)
    assert m["at_risk.precision"] == 0.0 and m["at_risk.recall"] == 0.0
    assert m["healthy.precision"] == 1.0 and m["healthy.recall"] == pytest.approx(1 / 2)
    # F1: healthy 2/3, at_risk 0, stalled 1/2
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0 + 1 / 2) / 3)
    assert m["confusion"]["stalled"]["at_risk"] == 1


def test_percentile_interpolates():
    assert percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    assert percentile([10], 95) == 10
    assert percentile([], 50) == 0.0


def test_reflection_helpers_by_hand():
    assert recall_of("phishing emails imitate suppliers", ["emails that imitate suppliers"]) == \
        pytest.approx(3 / 4)
    f, n = faithfulness("We looked at phishing. The board loved it.",
                        "We looked at phishing emails today.")
    assert (f, n) == (1, 2)


def test_agenda_checks_by_hand():
    agenda = {"items": [
        {"kind": "check_in", "title": "Check-in", "minutes": 5,
         "details": "Quick update on each goal: Learn passkeys.", "sources": ["pair:1/goals"]},
        {"kind": "follow_up", "title": "Follow up: Send the guide", "minutes": 5, "details": "",
         "sources": ["pair:1/action_items/3"]},
        {"kind": "topic", "title": "Phishing", "minutes": 10, "details": "", "topic_id": "t-a",
         "sources": ["knowledge/topics/a.md"]},
        {"kind": "wrap_up", "title": "Wrap-up", "minutes": 10, "details": "", "sources": []},
    ]}
    case = {"duration_minutes": 30, "gold": {"must_follow_up": ["Send the guide"],
                                             "must_address_goals": ["Learn passkeys"]}}
    checks = check_agenda(agenda, case, {"t-a": "technology"}, ["technology"])
    assert checks == {"duration": True, "follow_up": True, "goals": True, "grounded": False,
                      "focus": True}
    case["duration_minutes"] = 45
    assert check_agenda(agenda, case, {"t-a": "inclusion"}, ["technology"])["focus"] is False


def test_ndcg_by_hand():
    grades = {"a": 2, "b": 1, "c": 0}
    # ideal [2, 1]: 3/1 + 1/log2(3); shown [b, a]: 1/1 + 3/log2(3)
    ideal = 3 + 1 / math.log2(3)
    assert ndcg(["b", "a"], grades, 2) == pytest.approx((1 + 3 / math.log2(3)) / ideal)
    assert ndcg(["a", "b"], grades, 2) == pytest.approx(1.0)
    assert ndcg(["c", "x"], grades, 2) == 0.0
    assert ndcg(["a"], {"a": 0}, 1) is None  # nothing relevant: no ranking to judge
    assert mean_defined([1.0, None, 0.0]) == 0.5
    assert cosine_matrix([[1, 0]], [[1, 0], [0, 2], [-1, 0]]) == [[1.0, 0.0, -1.0]]


def test_topic_scores_by_hand():
    case = {"k": 2, "gold": {"grades": {"a": 2, "b": 1}, "covered_ids": ["c"]}}
    assert score(["a", "c"], case) == {"ndcg": pytest.approx(3 / (3 + 1 / math.log2(3))),
                                       "novelty": 0.5, "goal_relevance": 0.5}


def test_main_topic_fit_by_hand():
    assert topic_fit({"topic_id": "a"}, {"a": 1})
    assert not topic_fit({"topic_id": "b"}, {"a": 2})
    # built from the goal: right only where no topic serves a goal directly
    assert topic_fit({"topic_id": None}, {"a": 1})
    assert topic_fit({"topic_id": None}, {})
    assert not topic_fit({"topic_id": None}, {"a": 2})
    assert not topic_fit(None, {"a": 2})


def test_a_fitting_topic_within_the_ranking_by_hand():
    grades = {"a": 2, "b": 1}
    assert not fits_within(["x", "y", "b"], grades, 2)  # a topic serves a goal: no goal segment
    assert fits_within(["x", "y", "b"], grades, 3)
    assert fits_within([], {"b": 1}, 3)  # no topic serves a goal directly: the goal segment fits
    assert not fits_within([], grades, 6)


def test_a_second_annotators_main_topic_is_scored_like_the_coachs():
    cases = [{"id": "a", "gold": {"topic_grades": {"t1": 2, "t2": 1}}},
             {"id": "b", "gold": {"topic_grades": {"t1": 1}}},
             {"id": "c", "gold": {"topic_grades": {"t1": 2}}},
             {"id": "d", "gold": {"topic_grades": {}}}]  # not graded twice: left out
    second = {"a": {"main": "t2"}, "b": {"main": None}, "c": {"main": None}}
    assert human_main_fit(cases, second) == pytest.approx(2 / 3)  # c: a topic served a goal
    assert human_main_fit(cases[3:], second) is None


def test_the_second_annotators_grades_are_of_real_cases_and_topics():
    from pathlib import Path

    from evals.agenda_agreement import GRADED

    topics = {p.stem for p in (Path(__file__).parents[1] / "knowledge" / "topics").glob("*.md")}
    for name, graded in GRADED.items():
        second = second_grades(AGREEMENT / name)
        ids = {json.loads(line)["id"] for line in graded.read_text().splitlines() if line.strip()}
        assert set(second) == ids, name
        for row in second.values():
            assert set(row["topic_grades"]) <= topics and row["main"] in topics | {None}, row["id"]


def test_chat_citations_by_hand():
    section = "challenges-and-remedies.md#One side checks out"
    assert is_gold("knowledge/challenges-and-remedies.md",
                   "Challenges and remedies > One side checks out", section)
    assert not is_gold("knowledge/challenges-and-remedies.md",
                       "Challenges and remedies > Drifting pairs", section)
    assert not is_gold("knowledge/other-challenges-and-remedies.md",
                       "Challenges and remedies > One side checks out", section)
    assert is_gold("knowledge/topics/tech-phishing.md", "Spotting phishing > Activity",
                   "topics/tech-phishing.md#Activity")
    cited = [("knowledge/a.md", "A > X"), ("pair:1/goals", "Pair 1 > Goals")]
    assert citation_counts(cited, ["a.md#X", "b.md#Y"]) == (2, 1, 1)


def test_faithfulness_rates_by_hand():
    rows = [("paraphrase", True, True), ("paraphrase", True, False),
            ("negation", False, False), ("negation", False, True), ("invented", False, False)]
    out = rates(rows)
    assert out["keep"] == 0.5 and out["detection"] == pytest.approx(2 / 3)
    assert out["detection.negation"] == 0.5 and out["detection.invented"] == 1.0
    assert out["balanced"] == pytest.approx((0.5 + 2 / 3) / 2)


def test_topic_helpers_by_hand():
    class T:
        def __init__(self, id, title, related=()):
            self.id, self.title, self.related = id, title, related

    assert diverse(T("a", "Phishing basics"), T("b", "Blockchain ledgers"))
    assert not diverse(T("a", "Phishing basics", ("b",)), T("b", "Blockchain ledgers"))
    assert not diverse(T("a", "Phishing basics today"), T("b", "Phishing basics tomorrow"))


def test_thresholds_name_the_metric():
    report = {"runs": [{"backend": "none", "suites": {"retrieval": {"metrics": {
        "hit@5": 0.8, "latency_ms.p50": 30.0}}}}]}
    misses = check_thresholds(report, {"retrieval": {"hit@5": 0.85, "latency_ms.p50": 20,
                                                     "mrr": 0.5}})
    assert "none retrieval hit@5: 0.800 < 0.85" in misses
    assert "none retrieval latency_ms.p50: 30.000 > 20" in misses
    assert "none retrieval mrr: no such metric" in misses


def test_same_item_threshold_is_where_people_agree_best():
    from evals.match_agreement import THRESHOLDS, agreement, load
    from evals.metrics import MATCH_THRESHOLD

    judgments = load()
    best = max(agreement(judgments, t)["f1"] for t in THRESHOLDS)
    assert agreement(judgments, MATCH_THRESHOLD)["f1"] == pytest.approx(best, abs=0.005)


def test_a_bootstrap_interval_by_hand():
    def mean(sample):
        return sum(sample) / len(sample)

    # every resample of identical cases is the same: no room to move
    assert bootstrap_interval([0.6] * 20, mean) == pytest.approx((0.6, 0.6))
    # one case: every resample is that case
    assert bootstrap_interval([(3, 2, 1)], lambda s: micro_prf(s)["f1"]) == pytest.approx((0.4, 0.4))
    assert bootstrap_interval([], mean) == (0.0, 0.0)
    # half ones and half zeros over 48 cases: the mean of a resample is Binomial(48, 0.5) / 48,
    # whose central 95% is about 0.5 +- 1.96 * sqrt(0.25 / 48) = 0.36 .. 0.64
    cases = [1, 0] * 24
    low, high = bootstrap_interval(cases, mean)
    assert 0.33 <= low <= 0.39 and 0.61 <= high <= 0.67
    assert bootstrap_interval(cases, mean) == (low, high)  # seeded
    # four times the cases: half as wide
    low4, high4 = bootstrap_interval(cases * 4, mean)
    assert (high4 - low4) == pytest.approx((high - low) / 2, rel=0.25)
    # a narrower level is a narrower interval inside it
    low50, high50 = bootstrap_interval(cases, mean, level=0.5)
    assert low < low50 < 0.5 < high50 < high
    metrics = {}
    with_interval(metrics, "x.f1", cases, mean)
    assert metrics == {"x.f1_ci95_low": low, "x.f1_ci95_high": high}
