"""Views of a pair, built here alone: what the CLI, the API and the pages show of its records.

What each viewer may see is decided by coach.domain.access; these only shape it.
"""

from __future__ import annotations

from typing import Any

from coach.domain.access import PROGRAMME_VIEW, reflection_view, visible_action_items
from coach.domain.records import PairRecord, PersonRecord, SessionRecord
from coach.domain.vocabulary import SessionStatus


def pair_row(p: PairRecord) -> dict[str, Any]:
    """A pair in a list (the CLI's and the API's): names, focus, cadence, how it is going."""
    held = [s for s in p.sessions if s.status == SessionStatus.held]
    return {"id": p.id, "mentor": p.mentor.name, "mentee": p.mentee.name, "focus": list(p.focus),
            "cadence_days": p.cadence_days, "status": p.status,
            "starts_on": p.starts_on.isoformat(), "sessions_held": len(held),
            "last_held": held[-1].date.isoformat() if held else None,
            "open_action_items": len(p.open_action_items)}


def pair_view(p: PairRecord) -> dict[str, Any]:
    """A pair as the API returns it: its people, focus, dates and goals."""
    return {"id": p.id, "programme_id": p.programme_id, "mentor": p.mentor.to_dict(),
            "mentee": p.mentee.to_dict(), "focus": list(p.focus), "cadence_days": p.cadence_days,
            "starts_on": p.starts_on, "ends_on": p.ends_on, "status": p.status,
            "goals": [g.to_dict() for g in p.goals]}


def session_view(s: SessionRecord) -> dict[str, Any]:
    """A session as the API returns it; its agenda is a resource of its own."""
    return {"id": s.id, "date": s.date, "status": s.status, "minutes": s.minutes,
            "has_agenda": s.agenda is not None, "notes": s.notes}


def pair_detail(p: PairRecord) -> dict[str, Any]:
    """A pair's records as a coordinator sees them: reflections by id and visibility, and the
    action items that are not their authors' alone."""
    data = pair_row(p)
    data.update({
        "mentor": p.mentor.to_dict(), "mentee": p.mentee.to_dict(),
        "ends_on": p.ends_on.isoformat() if p.ends_on else None,
        "goals": [g.to_dict() for g in p.goals],
        "sessions": [{"id": s.id, "date": s.date.isoformat(), "status": s.status,
                      "minutes": s.minutes, "has_agenda": s.agenda is not None,
                      "reflections": [{"id": r.id, "author_role": r.author_role,
                                       "visibility": r.visibility} for r in s.reflections]}
                     for s in p.sessions],
        "action_items": [a.to_dict() for a in visible_action_items(PROGRAMME_VIEW, p)],
    })
    return data


def timeline(pair: PairRecord, viewer: PersonRecord) -> list[dict[str, Any]]:
    """Sessions, reflections and action items in date order, as ``viewer`` may see them.
    Never raw text, even the viewer's own: a timeline is a shared view."""
    events: list[dict[str, Any]] = []
    for s in pair.sessions:
        events.append({"date": s.date.isoformat(), "type": "session", "status": s.status,
                       "minutes": s.minutes, "session_id": s.id})
        for r in s.reflections:
            view = reflection_view(viewer, pair, r)
            if view is None:
                continue
            entry = {"date": r.created_at.date().isoformat(), "type": "reflection",
                     "author_role": r.author_role, "visibility": r.visibility,
                     "private": r.private, "reflection_id": r.id, "labels": view["labels"]}
            if view["summary"]:
                entry["summary"] = {k: view["summary"].get(k) for k in
                                    ("summary", "key_points", "blockers", "sentiment",
                                     "engagement", "topics")}
            events.append(entry)
    for a in visible_action_items(viewer, pair):
        when = a.due or (a.created_at.date() if a.created_at else pair.starts_on)
        events.append({"date": when.isoformat(), "type": "action_item", "id": a.id,
                       "text": a.text, "owner": a.owner,
                       "due": a.due.isoformat() if a.due else None, "done": a.done})
    events.sort(key=lambda e: (e["date"], e["type"]))
    return events
