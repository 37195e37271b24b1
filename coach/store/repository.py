"""The programme store: every read and write of programme records, with the brief's rules.

One class over the database, composed of one part per aggregate (programmes, people, pairs and
their goals, sessions, reflections and their action items, chat); each method is a transaction.
"""

from __future__ import annotations

from sqlalchemy import func, select

from coach.domain.errors import StoreNotInitialised
from coach.store.chat import ChatRecords
from coach.store.db import Database, is_initialised
from coach.store.models import ActionItem, Pair, Person, Programme, Reflection, Session
from coach.store.pairs import PairCreated, PairRecords
from coach.store.people import PeopleRecords
from coach.store.programmes import ProgrammeRecords
from coach.store.reflections import ReflectionRecords
from coach.store.sessions import SessionRecords

__all__ = ["PairCreated", "Store"]


class Store(ProgrammeRecords, PeopleRecords, PairRecords, SessionRecords, ReflectionRecords,
            ChatRecords):
    """Repository over the programme database. Methods are transactions."""

    def __init__(self, db: Database):
        self.db = db

    def require_initialised(self) -> None:
        if not is_initialised(self.db.engine):
            raise StoreNotInitialised()

    def counts(self) -> dict[str, int]:
        with self.db.session() as s:
            return {
                "programmes": s.scalar(select(func.count(Programme.id))) or 0,
                "people": s.scalar(select(func.count(Person.id))) or 0,
                "pairs": s.scalar(select(func.count(Pair.id))) or 0,
                "sessions": s.scalar(select(func.count(Session.id))) or 0,
                "reflections": s.scalar(select(func.count(Reflection.id))) or 0,
                "action_items": s.scalar(select(func.count(ActionItem.id))) or 0,
            }
