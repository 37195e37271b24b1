"""Read and write weekly health snapshots."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from coach.store.db import Database
from coach.store.models import HealthSnapshot


class SnapshotStore:
    def __init__(self, db: Database):
        self.db = db

    def get(self, programme_id: int, weeks: list[dt.date]) -> dict[dt.date, dict]:
        with self.db.session() as s:
            rows = s.scalars(select(HealthSnapshot).where(
                HealthSnapshot.programme_id == programme_id,
                HealthSnapshot.week_ending.in_(weeks)))
            return {r.week_ending: {"counts": dict(r.counts), "statuses": dict(r.statuses)}
                    for r in rows}

    def put(self, programme_id: int, week_ending: dt.date, counts: dict, statuses: dict) -> None:
        try:
            with self.db.session() as s:
                s.add(HealthSnapshot(programme_id=programme_id, week_ending=week_ending,
                                     counts=counts, statuses={str(k): v for k, v in statuses.items()}))
        except IntegrityError:
            pass  # another worker saved the same week first; theirs is as good

    def clear(self) -> None:
        from sqlalchemy import delete

        with self.db.session() as s:
            s.execute(delete(HealthSnapshot))
