"""Agendas suite: timing, follow-ups, goals, grounding and focus, per case and overall.

A must_follow_up item is revisited when a follow-up item's title matches its text (token F1
>= 0.5). A goal is addressed when its text appears (case-insensitive) in an item's title or
details, or an item cites the pair's goals and shares at least half of the goal's words.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import Any

from coach.container import Container
from coach.retrieval.text import tokenize
from evals.builders import build_pair
from evals.metrics import latency, token_f1

CHECKS = ("duration", "follow_up", "goals", "grounded", "focus")


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


def run_agendas(cases: list[dict[str, Any]], container: Container, dataset: Path,
                backend: str = "none") -> dict[str, Any]:
    results, times, fallbacks = [], [], 0
    totals = {c: 0 for c in CHECKS}
    with tempfile.TemporaryDirectory(prefix="coach-eval-") as tmp:
        scratch = container.scratch(Path(tmp))
        scratch.db.migrate()
        scratch.ingestor.ingest([scratch.settings.knowledge_dir])
        coach = scratch.coach(backend)
        topic_focus = {t.id: t.focus for t in scratch.catalogue.all().values()}
        for case in cases:
            pair = build_pair(scratch, case, coach=scratch.coach("none"))
            as_of = dt.date.fromisoformat(case["as_of"])
            started = time.perf_counter()
            try:
                agenda = coach.agenda(pair.id, int(case["duration_minutes"]), save=False, today=as_of)
            except Exception as exc:  # a refusal is a failed case, with the reason shown
                results.append({"id": case["id"], "passed": False,
                                "details": {"error": str(exc), **{c: False for c in CHECKS}}})
                times.append((time.perf_counter() - started) * 1000)
                continue
            times.append((time.perf_counter() - started) * 1000)
            fallbacks += bool(agenda["provenance"]["fallback"])
            checks = check_agenda(agenda, case, topic_focus, list(pair.focus))
            for c, ok in checks.items():
                totals[c] += ok
            results.append({"id": case["id"], "passed": all(checks.values()), "details": {
                "input": {k: case[k] for k in ("pair", "duration_minutes", "gold")},
                "output": {"items": [{k: i[k] for k in ("kind", "title", "minutes", "sources")}
                                     for i in agenda["items"]],
                           "opening_questions": agenda["opening_questions"]},
                **checks, "fallback_reason": agenda["provenance"].get("fallback_reason")}})
        scratch.close()
    n = max(1, len(cases))
    metrics = {"pass_rate": sum(r["passed"] for r in results) / n}
    metrics.update({f"checks.{c}": totals[c] / n for c in CHECKS})
    metrics.update(latency(times))
    metrics["fallback_rate"] = fallbacks / n
    return {"metrics": metrics, "cases": results}
