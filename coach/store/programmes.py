"""Programmes: their settings and health threshold overrides."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from coach.domain.errors import Conflict, InvalidInput, NotFound
from coach.domain.records import ProgrammeRecord
from coach.domain.rules import clean_text, parse_date
from coach.store.db import Database
from coach.store.mapping import programme_record
from coach.store.models import Programme


class ProgrammeRecords:
    """The store's programmes: their settings and health threshold overrides."""

    db: Database

    def create_programme(
        self,
        name: str,
        *,
        objectives: str = "",
        default_cadence_days: int = 14,
        default_session_minutes: int = 45,
        starts_on: dt.date | str | None = None,
        ends_on: dt.date | str | None = None,
        health_thresholds: dict | None = None,
    ) -> ProgrammeRecord:
        name = clean_text(name, "programme name", max_chars=200)
        starts, ends = parse_date(starts_on, "start date"), parse_date(ends_on, "end date")
        if starts and ends and ends < starts:
            raise InvalidInput("The programme ends before it starts. Check the dates.")
        if not 1 <= default_cadence_days <= 180:
            raise InvalidInput("The default cadence must be between 1 and 180 days.")
        if not 15 <= default_session_minutes <= 120:
            raise InvalidInput("The default session length must be between 15 and 120 minutes.")
        with self.db.session() as s:
            if s.scalar(select(Programme).where(Programme.name == name)):
                raise Conflict(f"A programme named {name!r} already exists.")
            programme = Programme(
                name=name,
                objectives=clean_text(objectives, "objectives", max_chars=5000, required=False),
                default_cadence_days=default_cadence_days,
                default_session_minutes=default_session_minutes,
                starts_on=starts,
                ends_on=ends,
                health_thresholds=health_thresholds or {},
            )
            s.add(programme)
            s.flush()
            return programme_record(programme)

    def list_programmes(self) -> list[ProgrammeRecord]:
        with self.db.session() as s:
            return [programme_record(p) for p in s.scalars(select(Programme).order_by(Programme.id))]

    def get_programme(self, programme_id: int | None = None) -> ProgrammeRecord:
        """The given programme, or the only/first one when no id is given."""
        with self.db.session() as s:
            if programme_id is None:
                programme = s.scalar(select(Programme).order_by(Programme.id).limit(1))
                if programme is None:
                    raise NotFound(
                        "There is no programme yet. Run `coach init --demo` or create one first."
                    )
            else:
                programme = s.get(Programme, programme_id)
                if programme is None:
                    raise NotFound(f"No programme with id {programme_id}.")
            return programme_record(programme)

    def update_programme_thresholds(self, programme_id: int, thresholds: dict) -> ProgrammeRecord:
        with self.db.session() as s:
            programme = s.get(Programme, programme_id)
            if programme is None:
                raise NotFound(f"No programme with id {programme_id}.")
            programme.health_thresholds = dict(thresholds)
            s.flush()
            return programme_record(programme)
