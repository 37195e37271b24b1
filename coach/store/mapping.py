"""ORM rows to the plain records services hold (coach.domain.records): nothing lazy-loads
outside a transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import selectinload

from coach.domain.errors import NotFound
from coach.domain.records import (
    ActionItemRecord,
    GoalRecord,
    PairRecord,
    PersonRecord,
    ProgrammeRecord,
    ReflectionRecord,
    SessionRecord,
)
from coach.store.models import ActionItem, Pair, Person, Programme, Reflection, Session


def pair_query():
    return select(Pair).options(
        selectinload(Pair.mentor),
        selectinload(Pair.mentee),
        selectinload(Pair.goals),
        selectinload(Pair.action_items),
        selectinload(Pair.sessions).selectinload(Session.reflections),
    )


def load_pair_record(s: OrmSession, pair_id: int) -> PairRecord:
    pair = s.scalar(pair_query().where(Pair.id == pair_id))
    if pair is None:
        raise NotFound(f"No pair {pair_id}. List pairs with `coach pairs list`.")
    return pair_record(pair)


def load_pair_records(s: OrmSession, ids: list[int] | None) -> list[PairRecord]:
    query = pair_query().order_by(Pair.id)
    if ids is not None:
        if not ids:
            return []
        query = query.where(Pair.id.in_(ids))
    return [pair_record(p) for p in s.scalars(query)]


def programme_record(p: Programme) -> ProgrammeRecord:
    return ProgrammeRecord(
        p.id, p.name, p.objectives, p.default_cadence_days, p.default_session_minutes,
        p.starts_on, p.ends_on, dict(p.health_thresholds or {}),
    )


def person_record(p: Person) -> PersonRecord:
    return PersonRecord(p.id, p.name, p.email, p.role, p.department, p.manager_id)


def reflection_record(r: Reflection, pair: Pair) -> ReflectionRecord:
    role = "mentor" if r.author_id == pair.mentor_id else "mentee"
    return ReflectionRecord(
        r.id, r.session_id, r.author_id, role, r.text, r.visibility, r.created_at,
        r.summary, r.summary_confirmed,
    )


def session_record(sess: Session, pair: Pair) -> SessionRecord:
    return SessionRecord(
        sess.id, sess.date, sess.status, sess.minutes, sess.agenda, sess.notes,
        tuple(reflection_record(r, pair) for r in sess.reflections),
    )


def action_record(a: ActionItem) -> ActionItemRecord:
    return ActionItemRecord(
        a.id, a.owner, a.text, a.due, a.done, a.done_at, a.origin, a.reflection_id, a.created_at
    )


def pair_record(p: Pair) -> PairRecord:
    return PairRecord(
        id=p.id,
        programme_id=p.programme_id,
        mentor=person_record(p.mentor),
        mentee=person_record(p.mentee),
        focus=tuple(p.focus or ()),
        cadence_days=p.cadence_days,
        starts_on=p.starts_on,
        ends_on=p.ends_on,
        status=p.status,
        goals=tuple(GoalRecord(g.id, g.text, g.status) for g in p.goals),
        sessions=tuple(session_record(x, p) for x in sorted(p.sessions, key=lambda x: (x.date, x.id))),
        action_items=tuple(action_record(a) for a in p.action_items),
    )
