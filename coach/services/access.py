"""Who may see and do what. The API turns a refusal into 404 (another pair's resource) or 403."""

from __future__ import annotations

from typing import Any

from coach.errors import CoachError
from coach.records import PairRecord, PersonRecord, ReflectionRecord


class Forbidden(CoachError):
    """The person is known but their role does not allow this."""

    code = "forbidden"


class Hidden(CoachError):
    """The resource exists but is not this person's to see; reported as not found."""

    code = "not_found"


def is_member(person: PersonRecord, pair: PairRecord) -> bool:
    return person.id in (pair.mentor.id, pair.mentee.id)


def can_view_pair(person: PersonRecord, pair: PairRecord) -> bool:
    return person.role in ("admin", "coordinator") or is_member(person, pair)


def require_view_pair(person: PersonRecord, pair: PairRecord) -> None:
    if not can_view_pair(person, pair):
        raise Hidden(f"No pair {pair.id}.")


def require_member(person: PersonRecord, pair: PairRecord, what: str, *,
                   allow_admin: bool = True) -> None:
    """Only the pair's own mentor and mentee act on it (admins too, for support, except for
    the pair's private conversations: reflections and chat)."""
    if is_member(person, pair) or (allow_admin and person.role == "admin"):
        return
    if person.role == "admin":
        raise Forbidden(f"Only the pair's mentor and mentee can {what}.")
    if person.role == "coordinator":
        raise Forbidden(f"Coordinators can see pair {pair.id} but not {what}.")
    raise Hidden(f"No pair {pair.id}.")


def require_role(person: PersonRecord, *roles: str) -> None:
    if person.role not in roles:
        raise Forbidden(f"This needs the {' or '.join(roles)} role; you are a {person.role}.")


def reflection_view(person: PersonRecord, pair: PairRecord, r: ReflectionRecord) -> dict[str, Any] | None:
    """What ``person`` may see of a reflection, or None.

    The author sees everything. The other member sees a non-private reflection's text and
    summary. Coordinators and admins see a non-private summary, never raw text. A private
    reflection is, to anyone but its author, only the fact that it exists.
    """
    base = {"id": r.id, "session_id": r.session_id, "author_role": r.author_role,
            "private": r.private, "created_at": r.created_at.isoformat(),
            "summary_confirmed": r.summary_confirmed}
    if person.id == r.author_id:
        return {**base, "text": r.text, "summary": r.summary}
    if r.private:
        return {**base, "text": None, "summary": None}
    if is_member(person, pair):
        return {**base, "text": r.text, "summary": r.summary}
    if person.role in ("coordinator", "admin"):
        return {**base, "text": None, "summary": public_summary(r.summary)}
    return None


def public_summary(summary: dict[str, Any] | None) -> dict[str, Any] | None:
    if not summary:
        return None
    keep = ("summary", "key_points", "action_items", "blockers", "sentiment", "engagement", "topics")
    return {k: summary.get(k) for k in keep}
