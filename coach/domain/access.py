"""Who may see and do what: every visibility rule of the coach, in one place.

A reflection's raw text is its author's alone. What is derived from it (summary, key points,
action items, blockers, sentiment) follows the visibility its author chose:

- private: the author alone; anyone else learns only that a reflection was written;
- pair: the partner sees the summary once the author confirms it; coordinators and admins see
  labels only (sentiment, engagement, how many blockers and action items);
- programme: coordinators and admins also see the confirmed summary, exactly as confirmed.

A credential issued by someone else reads its owner's private records only from the moment it
was issued (see ``Principal``), so issuing or resetting someone's credentials reads nothing.
The API turns ``Hidden`` into 404 and ``Forbidden`` into 403.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from coach.domain.errors import CoachError, InvalidInput
from coach.domain.records import ActionItemRecord, PairRecord, PersonRecord, Principal, ReflectionRecord
from coach.domain.vocabulary import STAFF_ROLES, Role

SUMMARY_KEYS = ("summary", "key_points", "action_items", "blockers", "sentiment", "engagement",
                "topics")


class Forbidden(CoachError):
    """The person is known but their role does not allow this."""

    code = "forbidden"


class Hidden(CoachError):
    """The resource exists but is not this person's to see; reported exactly like a resource
    that does not exist."""

    code = "not_found"


# The CLI's read-only views of a pair (timeline, pair details) show what a coordinator sees.
PROGRAMME_VIEW = Principal(0, "the programme's operator", "", Role.coordinator.value, "", None,
                           via="operator")


def no_pair(pair_id: int) -> Hidden:
    """The one wording for a pair that does not exist and a pair that is not yours."""
    return Hidden(f"No pair {pair_id} that you can see.")


def no_such(pair_id: int, what: str, item_id: int) -> Hidden:
    """The one wording for a missing or hidden record inside a pair you can see."""
    return Hidden(f"Pair {pair_id} has no {what} {item_id} that you can see.")


def is_member(person: PersonRecord, pair: PairRecord) -> bool:
    return person.id in (pair.mentor.id, pair.mentee.id)


def member_role(person: PersonRecord, pair: PairRecord) -> str:
    """"mentor" or "mentee": the part ``person`` plays in ``pair``; refused for anyone else."""
    if not is_member(person, pair):
        raise InvalidInput(f"{person.name} is not in pair {pair.id}.")
    return Role.mentor.value if person.id == pair.mentor.id else Role.mentee.value


def sees_programme(person: PersonRecord) -> bool:
    return person.role in STAFF_ROLES


def can_view_pair(person: PersonRecord, pair: PairRecord) -> bool:
    return sees_programme(person) or is_member(person, pair)


def require_view_pair(person: PersonRecord, pair: PairRecord) -> None:
    if not can_view_pair(person, pair):
        raise no_pair(pair.id)


def require_member(person: PersonRecord, pair: PairRecord, what: str, *,
                   allow_admin: bool = True) -> None:
    """Only the pair's own mentor and mentee act on it (admins too, for support, except for
    what carries the pair's private words: reflections, chat and agendas)."""
    if is_member(person, pair) or (allow_admin and person.role == Role.admin):
        return
    if sees_programme(person):
        raise Forbidden(f"Only the pair's mentor and mentee can {what}.")
    raise no_pair(pair.id)


def reads_private(person: PersonRecord, written) -> bool:
    """Whether this credential may read its owner's private record written at ``written``."""
    return not isinstance(person, Principal) or person.reads_private(written)


class Share(IntEnum):
    """How much of a reflection someone sees, least first."""

    none = 0
    exists = 1
    labels = 2
    summary = 3
    full = 4


def reflection_share(person: PersonRecord, pair: PairRecord, r: ReflectionRecord) -> Share:
    if person.id == r.author_id and reads_private(person, r.created_at):
        return Share.full
    if is_member(person, pair):  # the partner, or the author through an issued credential
        if r.shared_with_pair:
            return Share.summary
        return Share.exists if r.private else Share.labels
    if sees_programme(person):
        if r.shared_with_programme:
            return Share.summary
        return Share.exists if r.private else Share.labels
    return Share.none


def labels_of(r: ReflectionRecord, pair: PairRecord) -> dict[str, Any]:
    summary = r.summary or {}
    return {"sentiment": summary.get("sentiment"), "engagement": summary.get("engagement"),
            "blocker_count": len(summary.get("blockers") or []),
            "action_count": sum(1 for a in pair.action_items if a.reflection_id == r.id)}


def reflection_view(person: PersonRecord, pair: PairRecord,
                    r: ReflectionRecord) -> dict[str, Any] | None:
    """What ``person`` may see of a reflection, or None when they may not know of it."""
    share = reflection_share(person, pair, r)
    if share is Share.none:
        return None
    view = {"id": r.id, "session_id": r.session_id, "author_role": r.author_role,
            "visibility": r.visibility, "private": r.private,
            "created_at": r.created_at.isoformat(), "summary_confirmed": r.summary_confirmed,
            "text": None, "summary": None, "labels": None}
    if share >= Share.labels:
        view["labels"] = labels_of(r, pair)
    if share is Share.summary:
        view["summary"] = shared_summary(r.summary)
    elif share is Share.full:
        view.update(text=r.text, summary=r.summary)
    return view


def shared_summary(summary: dict[str, Any] | None) -> dict[str, Any] | None:
    """The part of a summary that is shown to others once its author shares it."""
    if not summary:
        return None
    return {k: summary.get(k) for k in SUMMARY_KEYS}


def visible_action_items(person: PersonRecord, pair: PairRecord) -> list[ActionItemRecord]:
    """Items added by hand or by an agenda, and items from reflections whose summary
    ``person`` may see."""
    shares = {r.id: reflection_share(person, pair, r) for r in pair.reflections}
    return [a for a in pair.action_items
            if a.reflection_id is None or shares.get(a.reflection_id, Share.none) >= Share.summary]


def visible_action_item(person: PersonRecord, pair: PairRecord, item_id: int) -> ActionItemRecord:
    found = next((a for a in visible_action_items(person, pair) if a.id == item_id), None)
    if found is None:
        raise no_such(pair.id, "action item", item_id)
    return found


def own_reflection(person: PersonRecord, pair: PairRecord, reflection_id: int) -> ReflectionRecord:
    """A reflection its author may change or delete, through a credential that may read it."""
    found = pair.reflection(reflection_id)
    if found is None or reflection_share(person, pair, found) is not Share.full:
        raise no_such(pair.id, "reflection", reflection_id)
    return found


def visible_reflection(person: PersonRecord, pair: PairRecord, reflection_id: int) -> dict[str, Any]:
    found = pair.reflection(reflection_id)
    view = reflection_view(person, pair, found) if found else None
    if view is None:
        raise no_such(pair.id, "reflection", reflection_id)
    return view
