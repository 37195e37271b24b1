"""Reflections suite: action items (with owners and due dates), blockers, sentiment, key
points, endings and disengagement, faithfulness and compression, each beside a simple
baseline.

Matching (documented, deterministic): a predicted item and a gold item match when their
token-overlap F1 (stemmed content words) is at least SAME_ITEM_OVERLAP (0.25, where it agrees
best with people's judgments: `python -m evals.match_agreement`); items are paired one-to-one,
most similar first. Owner and due-date accuracy are over matched action items whose gold gives
them. A gold key point is recalled when at least half of its content words appear in one
summary sentence or key point; a predicted key point is precise when it recalls a gold one.
A summary sentence is faithful when at least 60% of its content words appear in one
reflection sentence and its neighbours (coach.text.sentences).

Baselines: action items, every sentence with will/'ll/going to; blockers, every sentence VADER
scores negative; sentiment, the majority class and VADER alone on the whole text; key points,
the first three sentences.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

from coach.container import Container
from coach.domain.records import names_by_role
from coach.text.sentences import is_supported, split_sentences
from coach.text.tokens import tokenize
from evals.metrics import classification, latency, match_items, micro_prf, prf, with_interval

KEY_POINT_RECALL = 0.5
SENTIMENTS = ("positive", "neutral", "negative")
FIRST_K = 3
_FUTURE = re.compile(r"\b(will|'ll|’ll|going to|gonna)\b", re.I)


def recall_of(gold: str, candidates: list[str]) -> float:
    words = set(tokenize(gold))
    if not words:
        return 0.0
    return max((len(words & set(tokenize(c))) / len(words) for c in candidates), default=0.0)


def faithfulness(summary: str, source: str) -> tuple[int, int]:
    sentences = split_sentences(summary)
    return sum(1 for s in sentences if is_supported(s, [source])), len(sentences)


def gold_items(gold: dict[str, Any]) -> list[dict[str, Any]]:
    """Action items as dicts; older cases give plain strings (no owner or due date)."""
    return [i if isinstance(i, dict) else {"text": i} for i in gold.get("action_items", [])]


def vader_label(text: str) -> str:
    from coach.reader.language import vader

    compound = vader().polarity_scores(text)["compound"]
    return "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"


def _date(value) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def names_of(case: dict[str, Any]) -> dict[str, str]:
    """The pair's names as the live path passes them (coach.features.reflection.names_for)."""
    return names_by_role(case.get("mentor"), case.get("mentee"))


def key_point_scores(gold: list[str], predicted: list[str], candidates: list[str]
                     ) -> tuple[int, int, int]:
    """(gold recalled, predicted that recall a gold point, predicted)."""
    recalled = sum(1 for kp in gold if recall_of(kp, candidates) >= KEY_POINT_RECALL)
    precise = sum(1 for p in predicted if any(recall_of(kp, [p]) >= KEY_POINT_RECALL
                                              for kp in gold))
    return recalled, precise, len(predicted)


def run_reflections(cases: list[dict[str, Any]], container: Container, dataset: Path,
                    backend: str = "none") -> dict[str, Any]:
    summariser = container.features(backend).summariser
    actions, blockers, base_actions, base_blockers, results, times = [], [], [], [], [], []
    owners = dues = owners_total = dues_total = 0
    kp = {"gold": 0, "recalled": 0, "precise": 0, "predicted": 0,
          "base_recalled": 0, "base_precise": 0, "base_predicted": 0}
    flags = {"ending": [0, 0, 0], "disengaged": [0, 0, 0]}  # predicted, gold, both
    gold_sentiment, said, vader_said = [], [], []
    faithful = sentences = fallbacks = changed = 0
    compression: list[float] = []
    for case in cases:
        started = time.perf_counter()
        out = summariser.summarise(
            case["text"], case.get("author_role", "mentee"),
            focus=[case["focus"]] if case.get("focus") else (),
            session_date=_date(case.get("session_date")),
            next_session=_date(case.get("next_session")), names=names_of(case)).value
        times.append((time.perf_counter() - started) * 1000)
        gold = case["gold"]
        expected = gold_items(gold)
        predicted_actions = [a["text"] for a in out["action_items"]]
        a_pairs = match_items(predicted_actions, [g["text"] for g in expected])
        for i, j, _ in a_pairs:
            if "owner" in expected[j]:
                owners_total += 1
                owners += out["action_items"][i]["owner"] == expected[j]["owner"]
            if "due" in expected[j]:
                dues_total += 1
                dues += out["action_items"][i]["due"] == expected[j]["due"]
        b_pairs = match_items(out["blockers"], gold.get("blockers", []))
        actions.append((len(predicted_actions), len(expected), len(a_pairs)))
        blockers.append((len(out["blockers"]), len(gold.get("blockers", [])), len(b_pairs)))
        plain = split_sentences(case["text"])
        future = [s for s in plain if _FUTURE.search(s) and not s.rstrip().endswith("?")]
        base_actions.append((len(future), len(expected),
                             len(match_items(future, [g["text"] for g in expected]))))
        sour = [s for s in plain if vader_label(s) == "negative"]
        base_blockers.append((len(sour), len(gold.get("blockers", [])),
                              len(match_items(sour, gold.get("blockers", [])))))
        gold_sentiment.append(gold.get("sentiment", "neutral"))
        said.append(out["sentiment"])
        vader_said.append(vader_label(case["text"]))
        candidates = split_sentences(out["summary"]) + list(out["key_points"])
        gold_kp = gold.get("key_points", [])
        r, p, n = key_point_scores(gold_kp, list(out["key_points"]), candidates)
        br, bp, bn = key_point_scores(gold_kp, plain[:FIRST_K], plain[:FIRST_K])
        for key, value in (("gold", len(gold_kp)), ("recalled", r), ("precise", p),
                           ("predicted", n), ("base_recalled", br), ("base_precise", bp),
                           ("base_predicted", bn)):
            kp[key] += value
        for flag, counts in flags.items():
            if flag in gold:
                counts[0] += bool(out.get(flag))
                counts[1] += bool(gold[flag])
                counts[2] += bool(out.get(flag)) and bool(gold[flag])
        f, n_sent = faithfulness(out["summary"], case["text"])
        faithful += f
        sentences += n_sent
        compression.append(len(out["summary"].split()) / max(1, len(case["text"].split())))
        fallbacks += bool(out["provenance"]["fallback"])
        changed += bool(out["provenance"].get("changed"))
        ok = out["sentiment"] == gold.get("sentiment")
        passed = (ok and len(a_pairs) == len(expected) == len(predicted_actions)
                  and f == n_sent)
        results.append({"id": case["id"], "passed": passed, "details": {
            "input": case["text"], "output": {k: out[k] for k in
                                              ("summary", "key_points", "action_items", "blockers",
                                               "sentiment", "engagement")},
            "gold": gold, "sentiment_ok": ok, "action_matches": len(a_pairs),
            "blocker_matches": len(b_pairs), "faithful_sentences": f"{f}/{n_sent}",
            "fallback_reason": out["provenance"].get("fallback_reason")}})
    metrics: dict[str, float] = {}
    for name, counts, base in (("action_items", actions, base_actions),
                               ("blockers", blockers, base_blockers)):
        for key, value in micro_prf(counts).items():
            metrics[f"{name}.{key}"] = value
        metrics[f"{name}.baseline_f1"] = micro_prf(base)["f1"]
        with_interval(metrics, f"{name}.f1", counts, lambda sample: micro_prf(sample)["f1"])
    metrics["action_items.owner_accuracy"] = owners / owners_total if owners_total else 1.0
    metrics["action_items.due_accuracy"] = dues / dues_total if dues_total else 1.0
    n = max(1, len(cases))
    scored = classification(gold_sentiment, said, SENTIMENTS)
    majority = Counter(gold_sentiment).most_common(1)[0][0] if gold_sentiment else "positive"
    metrics["sentiment.accuracy"] = scored["accuracy"]
    metrics["sentiment.macro_f1"] = scored["macro_f1"]
    metrics["sentiment.baseline_majority_macro_f1"] = classification(
        gold_sentiment, [majority] * len(gold_sentiment), SENTIMENTS)["macro_f1"]
    metrics["sentiment.baseline_majority_accuracy"] = \
        sum(g == majority for g in gold_sentiment) / n
    metrics["sentiment.baseline_vader_macro_f1"] = classification(
        gold_sentiment, vader_said, SENTIMENTS)["macro_f1"]
    metrics["key_points.recall"] = kp["recalled"] / kp["gold"] if kp["gold"] else 1.0
    metrics["key_points.precision"] = kp["precise"] / kp["predicted"] if kp["predicted"] else 0.0
    metrics["key_points.baseline_recall"] = kp["base_recalled"] / kp["gold"] if kp["gold"] else 1.0
    metrics["key_points.baseline_precision"] = (kp["base_precise"] / kp["base_predicted"]
                                                if kp["base_predicted"] else 0.0)
    for flag, (p_, g_, both) in flags.items():
        if g_ or p_:
            metrics[f"{flag}.f1"] = prf(p_, g_, both)["f1"]
    metrics["summary_supported"] = faithful / sentences if sentences else 1.0
    metrics["compression"] = sum(compression) / n
    metrics.update(latency(times))
    metrics["fallback_rate"] = fallbacks / n
    metrics["changed_rate"] = changed / n
    return {"metrics": metrics, "cases": results}
