"""Plain snapshots of stored records, handed to services, the CLI and the API.

Services never hold ORM objects, so nothing lazy-loads outside a transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from coach.domain.vocabulary import SessionStatus


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class Record:
    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))  # type: ignore[call-overload]


@dataclass(frozen=True)
class ProgrammeRecord(Record):
    id: int
    name: str
    objectives: str
    default_cadence_days: int
    default_session_minutes: int
    starts_on: dt.date | None
    ends_on: dt.date | None
    health_thresholds: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PersonRecord(Record):
    id: int
    name: str
    email: str
    role: str
    department: str
    manager_id: int | None


@dataclass(frozen=True)
class Principal(PersonRecord):
    """A signed-in person, with what their credential may read. A credential that grew from a
    token someone else issued reads the person's own private records (reflections they wrote,
    their chat) only from ``private_from`` on: whoever issued it cannot read further back."""

    private_from: dt.datetime | None = None
    via: str = ""  # token | cookie | header | operator

    def reads_private(self, written: dt.datetime) -> bool:
        return self.private_from is None or written >= self.private_from


@dataclass(frozen=True)
class GoalRecord(Record):
    id: int
    text: str
    status: str


@dataclass(frozen=True)
class ReflectionRecord(Record):
    id: int
    session_id: int
    author_id: int
    author_role: str  # mentor | mentee (relative to the pair)
    text: str
    visibility: str  # coach.domain.vocabulary.Visibility
    created_at: dt.datetime
    summary: dict[str, Any] | None
    summary_confirmed: bool = False

    @property
    def private(self) -> bool:
        return self.visibility == "private"

    @property
    def shared_with_pair(self) -> bool:
        """The partner may see the summary, and what was found in it: the author shared it
        and confirmed it."""
        return self.visibility != "private" and self.summary_confirmed

    @property
    def shared_with_programme(self) -> bool:
        """Coordinators may see the summary, exactly as the author confirmed it."""
        return self.visibility == "programme" and self.summary_confirmed


@dataclass(frozen=True)
class SessionRecord(Record):
    id: int
    date: dt.date
    status: str
    minutes: int
    agenda: dict[str, Any] | None
    notes: str
    reflections: tuple[ReflectionRecord, ...] = ()


@dataclass(frozen=True)
class ActionItemRecord(Record):
    id: int
    owner: str
    text: str
    due: dt.date | None
    done: bool
    done_at: dt.date | None
    origin: str
    reflection_id: int | None
    created_at: dt.datetime | None = None


@dataclass(frozen=True)
class PairRecord(Record):
    id: int
    programme_id: int
    mentor: PersonRecord
    mentee: PersonRecord
    focus: tuple[str, ...]
    cadence_days: int
    starts_on: dt.date
    ends_on: dt.date | None
    status: str
    goals: tuple[GoalRecord, ...] = ()
    sessions: tuple[SessionRecord, ...] = ()
    action_items: tuple[ActionItemRecord, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.mentor.name} → {self.mentee.name}"

    @property
    def reflections(self) -> list[ReflectionRecord]:
        return [r for s in self.sessions for r in s.reflections]

    def reflection(self, reflection_id: int | None) -> ReflectionRecord | None:
        return next((r for r in self.reflections if r.id == reflection_id), None)

    @property
    def shared_action_items(self) -> list[ActionItemRecord]:
        """Items both members may see: added by hand or by an agenda, or found in a reflection
        whose author shared and confirmed it. The rest belong to their reflection's author."""
        shared = {r.id for r in self.reflections if r.shared_with_pair}
        return [a for a in self.action_items if a.reflection_id is None or a.reflection_id in shared]

    @property
    def open_action_items(self) -> list[ActionItemRecord]:
        """Open items shared with the pair: what an agenda follows up."""
        return [a for a in self.shared_action_items if not a.done]


# What the reader needs from a pair's records to read one of its reflections.
def reading_context(pair: PairRecord, session_id: int, written: dt.date | None = None
                    ) -> dict[str, Any]:
    """What the reader needs to read a reflection on one of the pair's sessions: the focus,
    the day its dates count from, the next session booked after that day ("before we next
    meet") and the pair's names (owners). Dates count from the session, or from the day the
    reflection was written when that is later: "the 9th" in a note written on 28 August is
    9 September, and "by Friday" a fortnight after the session is not a Friday long past."""
    session = next((s for s in pair.sessions if s.id == session_id), None)
    day = session.date if session else None
    if day is not None and written is not None and written > day:
        day = written
    later = [s.date for s in pair.sessions
             if s.status == SessionStatus.scheduled and day is not None and s.date > day]
    return {"focus": pair.focus, "session_date": day, "next_session": min(later, default=None),
            "names": names_for(pair)}


def names_for(pair: PairRecord) -> dict[str, str]:
    """First names and full names of the pair, mapped to their role, to find action owners."""
    return names_by_role(pair.mentor.name, pair.mentee.name)


def names_by_role(mentor: str | None, mentee: str | None) -> dict[str, str]:
    """Each person's full name and first name, mapped to their role (a missing name is left
    out): what the summariser is told on every path."""
    names = {}
    for name, role in ((mentor, "mentor"), (mentee, "mentee")):
        if name and str(name).strip():
            names[str(name).strip()] = names[str(name).split()[0]] = role
    return names


# What pair health reads: facts about a pair's records, never their text.
@dataclass(frozen=True, slots=True)
class SessionFact:
    date: dt.date
    status: str


@dataclass(frozen=True, slots=True)
class ReflectionFact:
    date: dt.date
    author_role: str
    private: bool
    sentiment: str | None = None  # None for private reflections
    engagement: str | None = None
    blockers: int = 0
    ending: bool = False  # what the reader found; always False for private reflections
    disengaged: bool = False
    doubts_next: bool = False
    hints_ending: bool = False  # a sentence reads as one, not clearly enough to say so alone
    hints_disengaged: bool = False
    expects_next_dropped: bool = False  # not only doubted: the writer expects it not to happen


@dataclass(frozen=True, slots=True)
class ActionFact:
    due: dt.date | None
    done: bool
    done_at: dt.date | None = None


@dataclass(frozen=True)
class HealthInput:
    pair_id: int
    cadence_days: int
    starts_on: dt.date
    status: str = "active"
    sessions: tuple[SessionFact, ...] = ()
    reflections: tuple[ReflectionFact, ...] = ()
    action_items: tuple[ActionFact, ...] = ()
    goal_statuses: tuple[str, ...] = ()
    programme_id: int | None = None
