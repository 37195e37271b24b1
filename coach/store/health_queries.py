"""Bulk reads for pair health: plain DB-API tuples, no ORM objects, no per-row type processing.

Private reflections are reduced here to the fact that they exist (date and author role):
their summary labels, and the action items found in them, never leave the database layer for
health purposes.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import String, case, cast, func, select

from coach.domain.records import ActionFact, HealthInput, ReflectionFact, SessionFact
from coach.domain.vocabulary import SessionStatus
from coach.store.db import Database
from coach.store.models import READER_SIGNALS, ActionItem, Goal, Pair, Person, Programme, Reflection, Session


def _date_parser(sample: Any) -> Callable[[Any], dt.date | None]:
    """SQLite hands back ISO strings and PostgreSQL dates; pick the conversion once per query."""
    if isinstance(sample, str):
        return lambda v: dt.date.fromisoformat(v[:10]) if v else None
    return lambda v: v


def _rows(conn, statement) -> list[tuple]:
    """Run a Core statement on the raw DB-API cursor (SQLAlchemy's row processing dominated
    the cost at 10k pairs). Only integer ids are inlined as literals."""
    sql = str(statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        cursor.close()


def load_health_inputs(db: Database, *, programme_id: int | None = None,
                       pair_ids: Iterable[int] | None = None) -> list[HealthInput]:
    ids = [int(i) for i in pair_ids] if pair_ids is not None else None
    with db.engine.connect() as conn:
        q = select(Pair.id, Pair.cadence_days, Pair.starts_on, Pair.status, Pair.mentor_id,
                   Pair.programme_id)
        if programme_id is not None:
            q = q.where(Pair.programme_id == int(programme_id))
        if ids is not None:
            q = q.where(Pair.id.in_(ids))
        pairs = _rows(conn, q.order_by(Pair.id))
        if not pairs:
            return []
        wanted = {p[0] for p in pairs}
        mentor_of = {p[0]: p[4] for p in pairs}

        def scoped(query, column):
            return query.where(column.in_(ids)) if ids is not None else query

        session_rows = _rows(conn, scoped(
            select(Session.pair_id, Session.date, Session.status)
            .order_by(Session.pair_id, Session.date, Session.id), Session.pair_id))
        # Ordered by id: the health rules keep this order among facts of one date, and
        # without ORDER BY PostgreSQL returns rows in table order, which an UPDATE changes.
        reflection_rows = _rows(conn, scoped(
            select(Session.pair_id, Session.date, Reflection.author_id, Reflection.visibility,
                   Reflection.sentiment, Reflection.engagement, Reflection.blocker_count,
                   *(getattr(Reflection, signal) for signal in READER_SIGNALS))
            .join(Session, Session.id == Reflection.session_id)
            .order_by(Reflection.id), Session.pair_id))
        # Items found in a private reflection are its author's: health does not read them.
        action_rows = _rows(conn, scoped(
            select(ActionItem.pair_id, ActionItem.due, ActionItem.done, ActionItem.done_at)
            .outerjoin(Reflection, Reflection.id == ActionItem.reflection_id)
            .where((Reflection.id.is_(None)) | (Reflection.visibility != "private"))
            .order_by(ActionItem.id), ActionItem.pair_id))
        goal_rows = _rows(conn, scoped(select(Goal.pair_id, Goal.status).order_by(Goal.id),
                                       Goal.pair_id))

    day = _date_parser(pairs[0][2])
    sessions: dict[int, list[SessionFact]] = defaultdict(list)
    for pid, date, status in session_rows:
        if pid in wanted:
            sessions[pid].append(SessionFact(day(date), status))
    reflections: dict[int, list[ReflectionFact]] = defaultdict(list)
    for pid, date, author, visibility, sentiment, engagement, blockers, *said in reflection_rows:
        if pid not in wanted:
            continue
        role = "mentor" if author == mentor_of[pid] else "mentee"
        if visibility == "private":
            reflections[pid].append(ReflectionFact(day(date), role, True))
        else:
            reflections[pid].append(ReflectionFact(day(date), role, False, sentiment, engagement,
                                                   blockers or 0, *(bool(x) for x in said)))
    actions: dict[int, list[ActionFact]] = defaultdict(list)
    for pid, due, done, done_at in action_rows:
        if pid in wanted:
            actions[pid].append(ActionFact(day(due), bool(done), day(done_at)))
    goals: dict[int, list[str]] = defaultdict(list)
    for pid, status in goal_rows:
        if pid in wanted:
            goals[pid].append(status)
    return [
        HealthInput(pid, cadence, day(starts), status, tuple(sessions[pid]),
                    tuple(reflections[pid]), tuple(actions[pid]), tuple(goals[pid]), programme)
        for pid, cadence, starts, status, _mentor, programme in pairs
    ]


def data_fingerprint(db: Database) -> tuple:
    """Counts, highest ids and id-weighted sums of every mutable column that health and the
    dashboard read: any insert, delete, status change, tick or edit of these changes it."""
    def weighted(column, values):
        return func.coalesce(func.sum(case({v: i + 1 for i, v in enumerate(values)}, value=column,
                                           else_=len(values) + 1) * column.table.c.id), 0)

    def table(model, *extra):
        return select(func.count(), func.coalesce(func.max(model.id), 0), *extra).select_from(model)

    queries = [
        table(Programme,
              func.coalesce(func.sum(func.length(cast(Programme.health_thresholds, String))), 0)),
        table(Person, func.coalesce(func.sum(func.length(Person.name) * Person.id), 0)),
        table(Pair, weighted(Pair.status, ("active", "paused", "closed")),
              func.coalesce(func.sum(Pair.cadence_days * Pair.id), 0)),
        table(Session, weighted(Session.status, tuple(SessionStatus))),
        table(Reflection, weighted(Reflection.sentiment, ("positive", "neutral", "negative")),
              weighted(Reflection.visibility, ("private", "pair", "programme")),
              func.coalesce(func.sum(Reflection.blocker_count), 0)),
        table(ActionItem,
              func.coalesce(func.sum(case((ActionItem.done, ActionItem.id), else_=0)), 0)),
        table(Goal, weighted(Goal.status, ("open", "in_progress", "achieved", "dropped"))),
    ]
    with db.engine.connect() as conn:
        return tuple(tuple(conn.execute(q).one()) for q in queries)


def held_sessions_by_day(db: Database, start: dt.date, end: dt.date,
                         programme_id: int | None = None) -> dict[dt.date, int]:
    """How many sessions were held on each day from ``start`` to ``end``, both included."""
    with db.engine.connect() as conn:
        q = (select(Session.date, func.count()).join(Pair, Pair.id == Session.pair_id)
             .where(Session.status == SessionStatus.held, Session.date >= start, Session.date <= end)
             .group_by(Session.date))
        if programme_id is not None:
            q = q.where(Pair.programme_id == programme_id)
        return dict(conn.execute(q).all())
