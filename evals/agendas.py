"""Agendas suite: does the agenda's main topic serve the pair's goals, does it pick up what the
last session left open, and do its opening questions belong to it?

Gold (evals/ANNOTATION.md, section 4): each catalogue topic graded 2 (serves a goal), 1
(related and useful) or 0 as the next session's main topic, and the open points of the most
recent reflections.

* main_topic_fit: share of cases whose main topic is graded 1 or 2; where no topic is graded
  above 0, the agenda must build its main segment from the goal instead (topic_id None).
* topic_ndcg: nDCG of the chosen topics against the grades (cases with a graded topic).
* open_points.recall: share of gold open points that some part of the agenda (an item's title
  or details, an opening question) says, by MiniLM similarity >= OPEN_POINT_SIMILARITY.
* opening_questions.on_topic: share of opening questions whose similarity to a chosen topic or
  to a goal is at least OPENING_QUESTION_SIMILARITY (chosen on dev: python -m evals.calibrate
  questions).
* checks.*: invariants of the composer (timing, a follow-up per open item, goals in the
  check-in, sources, focus), reported per case; tests/test_agenda.py holds them as unit tests.

* ranking.fit_at_k (k = 3, 6): share of cases where the main segment built from the goal or
  one of the ranker's first k candidate topics would fit: what a chooser reading the ranking
  as people do could reach, beside main_topic_fit, which is what the coach's own choice
  reaches.

Beside them: a second annotator's main topic, where one graded the split's cases blind
(human.main_topic_fit; evals.agenda_agreement), and, as the main topic, the first topic of the
pair's focus in catalogue order and the topic nearest the goals by MiniLM similarity
(baseline_first.*, baseline_vector.*).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

from coach.container import Container
from coach.features.agenda import ALTERNATIVES, CANDIDATES
from coach.text.tokens import tokenize
from evals.builders import build_pair
from evals.metrics import cosine_matrix, latency, mean_defined, ndcg, remembered, token_f1

CHECKS = ("duration", "follow_up", "goals", "grounded", "focus")
OPEN_POINT_SIMILARITY = 0.5
OPENING_QUESTION_SIMILARITY = 0.4
# A second annotator's grades of a split's cases (evals.agenda_agreement): the level a coach's
# main topic fit can be held to, printed beside it as human.main_topic_fit.
AGREEMENT = Path(__file__).parent / "datasets" / "agreement"
RANKING_DEPTHS = (ALTERNATIVES, CANDIDATES)  # what the mentor is offered; all that is ranked


def topic_fit(main: dict[str, Any] | None, grades: dict[str, float]) -> bool:
    """The main segment fits: a topic graded 1 or 2, or, when no topic serves a goal directly
    (none graded 2), one built from the goal itself."""
    if main is None:
        return False
    if main.get("topic_id") is None:
        return not any(g >= 2 for g in grades.values())
    return grades.get(main["topic_id"], 0) > 0


def fits_within(ranked: list[str], grades: dict[str, float], k: int) -> bool:
    """Some main segment among the first ``k`` of ``ranked`` topic ids, or the one built from
    the goal, would fit (topic_fit)."""
    return any(topic_fit({"topic_id": t}, grades) for t in [None, *ranked[:k]])


def second_grades(path: Path) -> dict[str, dict[str, Any]]:
    """A second annotator's grades, by case id."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {r["id"]: r for r in rows}


def grades_of(case: dict[str, Any]) -> dict[str, float]:
    return {t: float(g) for t, g in (case.get("gold", {}).get("topic_grades") or {}).items()}


def human_main_fit(cases: list[dict[str, Any]], second: dict[str, dict[str, Any]]) -> float | None:
    """The share of ``cases`` the second annotator graded whose main topic fits the gold."""
    scored = [topic_fit({"topic_id": second[c["id"]]["main"]}, grades_of(c))
              for c in cases if c["id"] in second]
    return sum(scored) / len(scored) if scored else None


def quality(agenda: dict[str, Any], case: dict[str, Any], embed, topic_text: dict[str, str],
            goals: list[str]) -> dict[str, float | None]:
    gold = case.get("gold", {})
    grades = grades_of(case)
    topics = [i for i in agenda["items"] if i["kind"] == "topic"]
    chosen = [i["topic_id"] for i in topics if i.get("topic_id")]
    out: dict[str, float | None] = {
        "main_topic_fit": float(topic_fit(topics[0] if topics else None, grades)),
        "topic_ndcg": ndcg(chosen, grades, max(1, len(topics))) if chosen else
        (None if not any(g > 0 for g in grades.values()) else 0.0),
    }
    points = list(gold.get("open_points") or [])
    units = [u for i in agenda["items"] for u in (i["title"], i["details"]) if u] + \
        list(agenda["opening_questions"])
    if points and units:
        sims = cosine_matrix(embed(points), embed(units))
        out["open_points.recall"] = sum(max(row) >= OPEN_POINT_SIMILARITY for row in sims) / len(points)
    else:
        out["open_points.recall"] = None if not points else 0.0
    questions = list(agenda["opening_questions"])
    anchors = [topic_text[t] for t in chosen if t in topic_text] + goals + \
        [f"{i['title']}. {i['details']}" for i in topics if not i.get("topic_id")]
    if questions and anchors:
        sims = cosine_matrix(embed(questions), embed(anchors))
        out["opening_questions.on_topic"] = \
            sum(max(row) >= OPENING_QUESTION_SIMILARITY for row in sims) / len(questions)
    else:
        out["opening_questions.on_topic"] = None
    return out


def check_agenda(agenda: dict[str, Any], case: dict[str, Any], topic_focus: dict[str, str],
                 pair_focus: list[str]) -> dict[str, bool]:
    items = agenda["items"]
    follow = [i["title"].removeprefix("Follow up: ") for i in items if i["kind"] == "follow_up"]
    gold = case.get("gold", {})
    revisited = all(any(token_f1(t, f) >= 0.5 for f in follow) for t in gold.get("must_follow_up", []))

    def addressed(goal: str) -> bool:
        goal_words = set(tokenize(goal))
        for item in items:
            text = f"{item['title']} {item['details']}"
            if goal.lower() in text.lower():
                return True
            if any(s.endswith("/goals") for s in item["sources"]) and goal_words and \
                    len(goal_words & set(tokenize(text))) / len(goal_words) >= 0.5:
                return True
        return False

    topics = [i for i in items if i["kind"] == "topic"]
    return {
        "duration": sum(i["minutes"] for i in items) == case["duration_minutes"],
        "follow_up": revisited,
        "goals": all(addressed(g) for g in gold.get("must_address_goals", [])),
        "grounded": all(i["sources"] for i in items),
        "focus": bool(topics) and all(topic_focus.get(i["topic_id"]) in pair_focus for i in topics),
    }


def baseline_mains(catalogue: dict[str, Any], focus: list[str], goals: list[str],
                   embed) -> dict[str, str]:
    """The main topic two simple rules would choose."""
    topics = [t for t in catalogue.values() if t.focus in focus] or list(catalogue.values())
    vectors = embed([" ".join(goals) or " ".join(focus)] + [t.text for t in topics])
    near = cosine_matrix(vectors[:1], vectors[1:])[0]
    return {"first": topics[0].id, "vector": max(zip(near, topics), key=lambda x: x[0])[1].id}


def run_agendas(cases: list[dict[str, Any]], container: Container, dataset: Path,
                backend: str = "none") -> dict[str, Any]:
    results, times, fallbacks, changed = [], [], 0, 0
    totals = {c: 0 for c in CHECKS}
    scores: dict[str, list[float | None]] = {}
    with container.scratch_store() as scratch:
        coach = scratch.features(backend)
        catalogue = scratch.catalogue.all()
        topic_focus = {t.id: t.focus for t in catalogue.values()}
        topic_text = {t.id: t.text for t in catalogue.values()}
        embed = remembered(scratch.embedder.embed_documents)
        for case in cases:
            pair = build_pair(scratch, case, coach=scratch.features("none"))
            as_of = dt.date.fromisoformat(case["as_of"])
            started = time.perf_counter()
            try:
                agenda = coach.agenda(pair.id, int(case["duration_minutes"]), save=False, today=as_of,
                                      covered=case.get("covered_topics", []))
            except Exception as exc:  # a refusal is a failed case, with the reason shown
                results.append({"id": case["id"], "passed": False,
                                "details": {"error": str(exc), **{c: False for c in CHECKS}}})
                for name in ("main_topic_fit", "topic_ndcg"):  # a refusal fits nothing
                    scores.setdefault(name, []).append(0.0)
                times.append((time.perf_counter() - started) * 1000)
                continue
            times.append((time.perf_counter() - started) * 1000)
            fallbacks += bool(agenda["provenance"]["fallback"])
            changed += bool(agenda["provenance"].get("changed"))
            checks = check_agenda(agenda, case, topic_focus, list(pair.focus))
            for c, ok in checks.items():
                totals[c] += ok
            goals = list(case.get("pair", {}).get("goals") or [])
            measured = quality(agenda, case, embed, topic_text, goals)
            for name, value in measured.items():
                scores.setdefault(name, []).append(value)
            grades = grades_of(case)
            ranked = [s.topic.id for s in coach.planner.context(
                pair, int(case["duration_minutes"]), as_of, case.get("covered_topics", [])).candidates]
            for k in RANKING_DEPTHS:
                scores.setdefault(f"ranking.fit_at_{k}", []).append(float(fits_within(ranked, grades, k)))
            for name, main in baseline_mains(catalogue, list(pair.focus), goals, embed).items():
                fake = {"items": [{"kind": "topic", "topic_id": main, "title": "", "details": ""}],
                        "opening_questions": []}
                scores.setdefault(f"baseline_{name}.main_topic_fit", []).append(
                    float(topic_fit(fake["items"][0], grades)))
                scores.setdefault(f"baseline_{name}.topic_ndcg", []).append(
                    ndcg([main], grades, 1) if any(g > 0 for g in grades.values()) else None)
            results.append({"id": case["id"], "passed": bool(measured["main_topic_fit"]), "details": {
                "input": {k: case[k] for k in ("pair", "duration_minutes", "gold")},
                "output": {"items": [{k: i[k] for k in ("kind", "title", "minutes", "sources")}
                                     for i in agenda["items"]],
                           "opening_questions": agenda["opening_questions"]},
                **checks, **measured,
                "fallback_reason": agenda["provenance"].get("fallback_reason")}})
    n = max(1, len(cases))
    metrics = {name: mean_defined(values) for name, values in scores.items()}
    metrics.update({f"checks.{c}": totals[c] / n for c in CHECKS})
    metrics.update(latency(times))
    metrics["fallback_rate"] = fallbacks / n
    metrics["changed_rate"] = changed / n
    second = AGREEMENT / f"agendas-{Path(dataset).name}.jsonl"
    if second.exists():
        metrics["human.main_topic_fit"] = human_main_fit(cases, second_grades(second))
    return {"metrics": metrics, "cases": results}
