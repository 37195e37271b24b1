"""Finding the rows a write works on, inside its transaction: a person by id or email, a pair
(locked, for writes that must take turns), a reflection, the next scheduled session."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session as OrmSession

from coach.domain.errors import NotFound
from coach.domain.vocabulary import SessionStatus
from coach.store.models import Pair, Person, Reflection, Session


def resolve_person(s: OrmSession, ref: int | str) -> Person:
    person: Person | None
    if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit()):
        person = s.get(Person, int(ref))
    else:
        person = s.scalar(select(Person).where(Person.email == str(ref).strip().lower()))
    if person is None:
        raise NotFound(f"No person {ref!r}. List people with `coach users list`.")
    return person


def next_scheduled(s: OrmSession, pair_id: int, today: dt.date) -> Session | None:
    """The pair's earliest scheduled session from today on (the one an agenda is for)."""
    return s.scalar(
        select(Session)
        .where(Session.pair_id == pair_id, Session.status == SessionStatus.scheduled, Session.date >= today)
        .order_by(Session.date, Session.id)
        .limit(1)
    )


def lock_pair(s: OrmSession, pair_id: int) -> Pair:
    """The pair, locked until the transaction ends. A no-op UPDATE is the portable lock: a row
    lock on PostgreSQL; on SQLite it opens the write transaction before anything is read."""
    s.execute(update(Pair).where(Pair.id == pair_id).values(cadence_days=Pair.cadence_days))
    return pair_row(s, pair_id)


def pair_row(s: OrmSession, pair_id: int) -> Pair:
    pair = s.get(Pair, pair_id)
    if pair is None:
        raise NotFound(f"No pair {pair_id}. List pairs with `coach pairs list`.")
    return pair


def reflection_row(s: OrmSession, pair_id: int, reflection_id: int) -> Reflection:
    reflection = s.get(Reflection, reflection_id)
    if reflection is None or reflection.session.pair_id != pair_id:
        raise NotFound(f"Pair {pair_id} has no reflection {reflection_id}.")
    return reflection
