"""A pair's sessions, and the agenda saved on the next one."""

from __future__ import annotations

import datetime as dt

from coach.domain.errors import NotFound
from coach.domain.records import SessionRecord
from coach.domain.rules import check_session_in_time, clean_text, parse_date, session_day, session_minutes
from coach.domain.vocabulary import SessionStatus, parse_enum
from coach.store.db import Database
from coach.store.mapping import session_record
from coach.store.models import Session
from coach.store.rows import lock_pair, next_scheduled, pair_row


class SessionRecords:
    """The store's sessions, and the agenda saved on a pair's next one."""

    db: Database

    def log_session(
        self,
        pair_id: int,
        date: dt.date | str,
        status: str = SessionStatus.held,
        *,
        minutes: int | None = None,
        notes: str = "",
        today: dt.date | None = None,
    ) -> SessionRecord:
        day = session_day(date)
        status_value = parse_enum(SessionStatus, status, "session status").value
        check_session_in_time(status_value, day, today or dt.date.today())
        notes = clean_text(notes, "notes", max_chars=5000, required=False)
        with self.db.session() as s:
            pair = pair_row(s, pair_id)
            length = session_minutes(
                minutes if minutes is not None else pair.programme.default_session_minutes)
            session = Session(
                pair_id=pair_id, date=day, status=status_value, minutes=length, notes=notes
            )
            s.add(session)
            s.flush()
            return session_record(session, pair)

    def update_session(
        self,
        pair_id: int,
        session_id: int,
        *,
        status: str | None = None,
        date: dt.date | str | None = None,
        minutes: int | None = None,
        agenda: dict | None = None,
        today: dt.date | None = None,
    ) -> SessionRecord:
        with self.db.session() as s:
            pair = pair_row(s, pair_id)
            session = s.get(Session, session_id)
            if session is None or session.pair_id != pair_id:
                raise NotFound(f"Pair {pair_id} has no session {session_id}.")
            if date is not None:
                session.date = parse_date(date, "session date") or session.date
            if status is not None:
                session.status = parse_enum(SessionStatus, status, "session status").value
            check_session_in_time(session.status, session.date, today or dt.date.today())
            if minutes is not None:
                session.minutes = session_minutes(minutes)
            if agenda is not None:
                session.agenda = agenda
            s.flush()
            return session_record(session, pair)

    def save_agenda(self, pair_id: int, agenda: dict, *, date: dt.date | str, minutes: int,
                    today: dt.date | None = None) -> SessionRecord:
        """Attach an agenda to the pair's next scheduled session, booking it on ``date`` if
        there is none. One transaction that holds the pair's write lock from the start, so two
        agendas prepared at once for the same pair share one session instead of booking two."""
        today = today or dt.date.today()
        day = session_day(date)
        minutes = session_minutes(minutes)
        with self.db.session() as s:
            pair = lock_pair(s, pair_id)
            session = next_scheduled(s, pair_id, today)
            if session is None:
                session = Session(pair_id=pair_id, date=day, status=SessionStatus.scheduled, minutes=minutes,
                                  notes="")
                s.add(session)
            session.minutes = minutes
            session.agenda = agenda
            s.flush()
            return session_record(session, pair)

    def next_session(self, pair_id: int, *, today: dt.date | None = None) -> SessionRecord | None:
        """The pair's next session: its earliest scheduled one from today on. An agenda is saved
        on it (save_agenda), and it is the agenda the API and the prep page show; a booking
        whose date passed unlogged is not it."""
        today = today or dt.date.today()
        with self.db.session() as s:
            pair = pair_row(s, pair_id)
            session = next_scheduled(s, pair_id, today)
            return session_record(session, pair) if session else None

    def get_session(self, pair_id: int, session_id: int) -> SessionRecord:
        with self.db.session() as s:
            pair = pair_row(s, pair_id)
            session = s.get(Session, session_id)
            if session is None or session.pair_id != pair_id:
                raise NotFound(f"Pair {pair_id} has no session {session_id}.")
            return session_record(session, pair)
