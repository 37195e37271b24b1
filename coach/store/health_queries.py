"""Bulk reads for pair health: plain tuples through SQLAlchemy Core, no ORM objects.

Private reflections are reduced here to the fact that they exist (date and author role):
their summary labels never leave the database layer for health purposes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import select

from coach.services.health import ActionFact, HealthInput, ReflectionFact, SessionFact
from coach.store.db import Database
from coach.store.models import ActionItem, Goal, Pair, Reflection, Session


def load_health_inputs(db: Database, *, programme_id: int | None = None,
                       pair_ids: Iterable[int] | None = None) -> list[HealthInput]:
    ids = list(pair_ids) if pair_ids is not None else None
    with db.engine.connect() as conn:
        q = select(Pair.id, Pair.cadence_days, Pair.starts_on, Pair.status, Pair.mentor_id)
        if programme_id is not None:
            q = q.where(Pair.programme_id == programme_id)
        if ids is not None:
            q = q.where(Pair.id.in_(ids))
        pairs = conn.execute(q.order_by(Pair.id)).all()
        wanted = {p.id for p in pairs}
        mentor_of = {p.id: p.mentor_id for p in pairs}

        def scoped(query, column):
            return query.where(column.in_(ids)) if ids is not None else query

        sessions: dict[int, list[SessionFact]] = defaultdict(list)
        for pid, date, status in conn.execute(scoped(
                select(Session.pair_id, Session.date, Session.status)
                .order_by(Session.pair_id, Session.date, Session.id), Session.pair_id)):
            if pid in wanted:
                sessions[pid].append(SessionFact(date, status))
        reflections: dict[int, list[ReflectionFact]] = defaultdict(list)
        for pid, date, author, private, sentiment, engagement, blockers in conn.execute(scoped(
                select(Session.pair_id, Session.date, Reflection.author_id, Reflection.private,
                       Reflection.sentiment, Reflection.engagement, Reflection.blocker_count)
                .join(Session, Session.id == Reflection.session_id), Session.pair_id)):
            if pid not in wanted:
                continue
            role = "mentor" if author == mentor_of[pid] else "mentee"
            if private:
                reflections[pid].append(ReflectionFact(date, role, True))
            else:
                reflections[pid].append(ReflectionFact(date, role, False, sentiment, engagement,
                                                       blockers or 0))
        actions: dict[int, list[ActionFact]] = defaultdict(list)
        for pid, due, done, done_at in conn.execute(scoped(
                select(ActionItem.pair_id, ActionItem.due, ActionItem.done, ActionItem.done_at),
                ActionItem.pair_id)):
            if pid in wanted:
                actions[pid].append(ActionFact(due, bool(done), done_at))
        goals: dict[int, list[str]] = defaultdict(list)
        for pid, status in conn.execute(scoped(select(Goal.pair_id, Goal.status), Goal.pair_id)):
            if pid in wanted:
                goals[pid].append(status)
    return [
        HealthInput(p.id, p.cadence_days, p.starts_on, p.status, tuple(sessions[p.id]),
                    tuple(reflections[p.id]), tuple(actions[p.id]), tuple(goals[p.id]))
        for p in pairs
    ]
