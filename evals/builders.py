"""Build a dataset case's pair in a throwaway store: each case gets its own people and pair."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from coach.container import Container
from coach.domain.errors import InvalidInput
from coach.domain.records import PairRecord, reading_context

_counter = itertools.count(1)


def _date(value: Any, what: str, case_id: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(f"Case {case_id}: {what} {value!r} is not a YYYY-MM-DD date.") from None


def build_pair(scratch: Container, case: dict[str, Any], *, coach=None,
               summarise: bool = True) -> PairRecord:
    """Create the case's pair, sessions, reflections (summarised by ``coach``) and action items."""
    cid = str(case["id"])
    spec = case.get("pair") or {}
    store = scratch.store
    if not store.list_programmes():
        store.create_programme("Evaluation")
    n = next(_counter)
    mentor = store.add_person(spec.get("mentor") or "Mentor", f"mentor{n}@eval.invalid", "mentor",
                              department=f"Mentor dept {n}")
    mentee = store.add_person(spec.get("mentee") or "Mentee", f"mentee{n}@eval.invalid", "mentee",
                              department=f"Mentee dept {n}")
    as_of = _date(case.get("as_of") or dt.date.today().isoformat(), "as_of", cid)
    started = _date(spec.get("started_on") or spec.get("starts_on") or as_of.isoformat(),
                    "started_on", cid)
    pair = scratch.writes.add_pair(mentor.id, mentee.id, spec.get("focus") or ["technology"],
                                      goals=spec.get("goals") or [],
                                      cadence_days=int(spec.get("cadence_days") or 14),
                                      starts_on=started).pair
    held: list[tuple[dt.date, int]] = []
    for s in sorted(case.get("sessions") or [], key=lambda s: s["date"]):
        day = _date(s["date"], "session date", cid)
        record = store.log_session(pair.id, day, s.get("status", "held"),
                                   minutes=int(s.get("duration_minutes") or 45), today=as_of)
        if record.status == "held":
            held.append((day, record.id))
    for r in case.get("reflections") or []:
        day = _date(r["date"], "reflection date", cid)
        before = [sid for d, sid in held if d <= day] or [sid for _, sid in held]
        if not before:
            # A reflection with no held session: log the session it must belong to.
            before = [store.log_session(pair.id, day, "held", today=max(day, as_of)).id]
        role = r.get("author_role", "mentee")
        author = mentor.id if role == "mentor" else mentee.id
        summary = None
        if summarise and coach is not None:
            summary = coach.summariser.summarise(
                r["text"], role,
                **reading_context(store.get_pair(pair.id), before[-1], written=day)).value
        visibility = "private" if r.get("private") else r.get("visibility", "pair")
        saved = store.add_reflection(pair.id, before[-1], author, r["text"],
                                     visibility=visibility, summary=summary,
                                     created_at=dt.datetime.combine(day, dt.time(9)))
        if summary is not None and visibility != "private":
            # a reflection a dataset marks shared is one whose author shared and confirmed it
            store.update_reflection(pair.id, saved.id, confirmed=True)
    for a in case.get("action_items") or []:
        item = store.add_action_item(pair.id, a["text"], a.get("owner", "mentee"),
                                     due=a.get("due"), origin="import")
        if a.get("done"):
            due = _date(a["due"], "due", cid) if a.get("due") else as_of
            store.set_action_done(pair.id, item.id, True, today=min(due, as_of))
    scratch.writes.reindex(pair.id)
    return store.get_pair(pair.id)
