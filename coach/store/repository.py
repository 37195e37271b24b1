"""The programme store: every read and write of programme records, with the brief's rules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import selectinload

from coach.domain.errors import Conflict, InvalidInput, NotFound, RuleViolation, StoreNotInitialised
from coach.domain.records import (
    ActionItemRecord,
    GoalRecord,
    PairRecord,
    PersonRecord,
    ProgrammeRecord,
    ReflectionRecord,
    SessionRecord,
)
from coach.domain.rules import (
    EMAIL_RE,
    MAX_GOAL_CHARS,
    MAX_REFLECTION_CHARS,
    MAX_SHORT_TEXT,
    check_pairing_rules,
    check_session_in_time,
    clean_text,
    parse_date,
    session_day,
    session_minutes,
)
from coach.domain.sources import action_item_source, reflection_source
from coach.domain.vocabulary import (
    GoalStatus,
    Owner,
    PairStatus,
    Role,
    Sentiment,
    SessionStatus,
    Visibility,
    parse_enum,
    parse_focus_list,
)
from coach.store.db import Database, is_initialised
from coach.store.models import (
    READER_SIGNALS,
    ActionItem,
    ApiToken,
    ChatMessage,
    CredentialEvent,
    Goal,
    Pair,
    Person,
    Programme,
    ReaderCorrection,
    Reflection,
    Session,
    WebSession,
)


@dataclass
class PairCreated:
    pair: PairRecord
    warnings: list[str] = field(default_factory=list)


class Store:
    """Repository over the programme database. Methods are transactions."""

    def __init__(self, db: Database):
        self.db = db

    # -- lifecycle ---------------------------------------------------------
    def require_initialised(self) -> None:
        if not is_initialised(self.db.engine):
            raise StoreNotInitialised()

    # -- programmes --------------------------------------------------------
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
            return _programme(programme)

    def list_programmes(self) -> list[ProgrammeRecord]:
        with self.db.session() as s:
            return [_programme(p) for p in s.scalars(select(Programme).order_by(Programme.id))]

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
            return _programme(programme)

    def update_programme_thresholds(self, programme_id: int, thresholds: dict) -> ProgrammeRecord:
        with self.db.session() as s:
            programme = s.get(Programme, programme_id)
            if programme is None:
                raise NotFound(f"No programme with id {programme_id}.")
            programme.health_thresholds = dict(thresholds)
            s.flush()
            return _programme(programme)

    # -- people ------------------------------------------------------------
    def add_person(
        self,
        name: str,
        email: str,
        role: str,
        *,
        department: str = "",
        manager: int | str | None = None,
    ) -> PersonRecord:
        name = clean_text(name, "name", max_chars=200)
        email = clean_text(email, "email", max_chars=320).lower()
        if not EMAIL_RE.match(email):
            raise InvalidInput(f"{email!r} is not an email address.")
        role_value = parse_enum(Role, role, "role").value
        department = clean_text(department, "department", max_chars=200, required=False)
        with self.db.session() as s:
            if s.scalar(select(Person).where(Person.email == email)):
                raise Conflict(f"Someone with email {email} already exists.")
            manager_id = None
            if manager not in (None, ""):
                manager_id = _resolve_person(s, manager).id
            person = Person(
                name=name, email=email, role=role_value, department=department,
                manager_id=manager_id,
            )
            s.add(person)
            try:
                s.flush()
            except IntegrityError as exc:  # another writer added the same email since the check
                raise Conflict(f"Someone with email {email} already exists.") from exc
            return _person(person)

    def set_manager(self, person: int | str, manager: int | str | None) -> PersonRecord:
        with self.db.session() as s:
            subject = _resolve_person(s, person)
            if manager in (None, ""):
                subject.manager_id = None
            else:
                boss = _resolve_person(s, manager)
                if boss.id == subject.id:
                    raise RuleViolation("A person cannot be their own manager.")
                subject.manager_id = boss.id
            s.flush()
            return _person(subject)

    def pairs_of(self, person_id: int) -> list[int]:
        with self.db.session() as s:
            return list(s.scalars(select(Pair.id).where(
                (Pair.mentor_id == person_id) | (Pair.mentee_id == person_id)).order_by(Pair.id)))

    def delete_person(self, ref: int | str) -> PersonRecord:
        """Delete someone who is in no pair, with their credentials and everything they wrote.
        Someone in a pair is refused: their pairs hold their partner's records too."""
        with self.db.session() as s:
            person = _resolve_person(s, ref)
            pairs = list(s.scalars(select(Pair.id).where(
                (Pair.mentor_id == person.id) | (Pair.mentee_id == person.id)).order_by(Pair.id)))
            if pairs:
                listed = ", ".join(str(p) for p in pairs)
                raise Conflict(f"{person.name} is in pair(s) {listed}. Delete those pairs first, "
                               "or anonymise the person instead.")
            record = _person(person)
            s.execute(update(Person).where(Person.manager_id == person.id).values(manager_id=None))
            s.delete(person)
            return record

    def anonymise_person(self, ref: int | str) -> tuple[PersonRecord, list[int]]:
        """Keep a person's place in their pairs (dates, sessions, goals, items added by hand)
        but remove who they are and everything they wrote: reflections with what was derived
        from them, chat, credentials. Returns the person and the pairs to re-index."""
        with self.db.session() as s:
            person = _resolve_person(s, ref)
            written = list(s.execute(
                select(Reflection.id, Session.pair_id).join(Session, Session.id == Reflection.session_id)
                .where(Reflection.author_id == person.id)).all())
            for reflection_id, pair_id in written:
                _forget_shared_traces(s, pair_id, reflection_id)
                s.execute(delete(ActionItem).where(ActionItem.reflection_id == reflection_id))
                s.execute(delete(Reflection).where(Reflection.id == reflection_id))
            s.execute(delete(ChatMessage).where(ChatMessage.person_id == person.id))
            for model in (WebSession, ApiToken, CredentialEvent):
                s.execute(delete(model).where(model.person_id == person.id))
            person.name = f"Former participant {person.id}"
            person.email = f"former-{person.id}@anonymised.invalid"
            person.department = ""
            person.manager_id = None
            s.execute(update(Person).where(Person.manager_id == person.id).values(manager_id=None))
            s.flush()
            pairs = sorted({pair_id for _, pair_id in written} | set(s.scalars(select(Pair.id).where(
                (Pair.mentor_id == person.id) | (Pair.mentee_id == person.id)))))
            return _person(person), pairs

    def get_person(self, ref: int | str) -> PersonRecord:
        with self.db.session() as s:
            return _person(_resolve_person(s, ref))

    def list_people(self, role: str | None = None) -> list[PersonRecord]:
        with self.db.session() as s:
            query = select(Person).order_by(Person.id)
            if role:
                query = query.where(Person.role == parse_enum(Role, role, "role").value)
            return [_person(p) for p in s.scalars(query)]

    # -- pairs -------------------------------------------------------------
    def add_pair(
        self,
        mentor: int | str,
        mentee: int | str,
        focus: Sequence[str] | str,
        *,
        goals: Iterable[str] = (),
        cadence_days: int | None = None,
        starts_on: dt.date | str | None = None,
        ends_on: dt.date | str | None = None,
        programme_id: int | None = None,
        status: str = "active",
    ) -> PairCreated:
        focus_list = parse_focus_list(focus)
        status_value = parse_enum(PairStatus, status, "pair status").value
        goal_texts = [clean_text(g, "goal", max_chars=MAX_GOAL_CHARS) for g in goals]
        starts = parse_date(starts_on, "start date") or dt.date.today()
        ends = parse_date(ends_on, "end date")
        if ends and ends < starts:
            raise InvalidInput("The pair ends before it starts. Check --starts and --ends.")
        warnings: list[str] = []
        with self.db.session() as s:
            programme = (
                s.get(Programme, programme_id)
                if programme_id
                else s.scalar(select(Programme).order_by(Programme.id).limit(1))
            )
            if programme is None:
                raise NotFound("There is no programme yet. Run `coach init` first.")
            cadence = cadence_days if cadence_days is not None else programme.default_cadence_days
            if not 1 <= cadence <= 180:
                raise InvalidInput("The cadence must be between 1 and 180 days.")
            mentor_p, mentee_p = _resolve_person(s, mentor), _resolve_person(s, mentee)
            check_pairing_rules(mentor_p, mentee_p, warnings)
            duplicate = s.scalar(
                select(Pair).where(
                    Pair.mentor_id == mentor_p.id,
                    Pair.mentee_id == mentee_p.id,
                    Pair.status != "closed",
                )
            )
            if duplicate:
                raise Conflict(
                    f"{mentor_p.name} already mentors {mentee_p.name} in pair {duplicate.id}."
                )
            pair = Pair(
                programme_id=programme.id,
                mentor_id=mentor_p.id,
                mentee_id=mentee_p.id,
                focus=focus_list,
                cadence_days=cadence,
                starts_on=starts,
                ends_on=ends,
                status=status_value,
            )
            pair.goals = [Goal(text=t, status="open") for t in goal_texts]
            s.add(pair)
            names = (mentor_p.name, mentee_p.name)
            try:
                s.flush()
            except IntegrityError as exc:  # uq_pairs_open: a concurrent add won the race
                raise Conflict(f"{names[0]} already mentors {names[1]} in an open pair.") from exc
            return PairCreated(_load_pair_record(s, pair.id), warnings)

    @contextmanager
    def holding_pair(self, pair_id: int) -> Iterator[PairRecord]:
        """The pair's record, read while holding the pair until the block ends, so whoever
        keeps state derived from it (the pair's index entries) takes turns and never writes
        from a stale read."""
        with self.db.session() as s:
            yield _load_pair_record(s, _lock_pair(s, pair_id).id)

    def get_pair(self, pair_id: int) -> PairRecord:
        with self.db.session() as s:
            return _load_pair_record(s, pair_id)

    def list_pairs(
        self, *, status: str | None = None, person_id: int | None = None
    ) -> list[PairRecord]:
        with self.db.session() as s:
            query = select(Pair.id).order_by(Pair.id)
            if status:
                query = query.where(Pair.status == parse_enum(PairStatus, status, "status").value)
            if person_id is not None:
                query = query.where((Pair.mentor_id == person_id) | (Pair.mentee_id == person_id))
            ids = list(s.scalars(query))
            return load_pair_records(s, ids)

    def pair_labels(self) -> dict[int, dict]:
        """Names and focus of every pair, in one light query (for tables of many pairs)."""
        from sqlalchemy.orm import aliased

        mentor, mentee = aliased(Person), aliased(Person)
        with self.db.engine.connect() as conn:
            rows = conn.execute(
                select(Pair.id, mentor.name, mentee.name, Pair.focus, Pair.status)
                .join(mentor, mentor.id == Pair.mentor_id).join(mentee, mentee.id == Pair.mentee_id)
            ).all()
        return {pid: {"mentor": a, "mentee": b, "focus": list(f or []), "status": st}
                for pid, a, b, f, st in rows}

    def all_pair_records(self) -> list[PairRecord]:
        with self.db.session() as s:
            return load_pair_records(s, None)

    def set_pair_status(self, pair_id: int, status: str) -> PairRecord:
        value = parse_enum(PairStatus, status, "pair status").value
        with self.db.session() as s:
            pair = _get_pair(s, pair_id)
            names = (pair.mentor.name, pair.mentee.name)  # read now: a failed flush ends the unit
            pair.status = value
            try:
                s.flush()
            except IntegrityError as exc:  # uq_pairs_open: reopening beside an open pair
                raise Conflict(
                    f"Pair {pair_id} cannot be reopened: {names[0]} already mentors {names[1]} "
                    "in another open pair. Close that one first."
                ) from exc
            return _load_pair_record(s, pair_id)

    def delete_pair(self, pair_id: int) -> None:
        with self.db.session() as s:
            s.delete(_get_pair(s, pair_id))

    # -- goals -------------------------------------------------------------
    def add_goal(self, pair_id: int, text: str, status: str = "open") -> GoalRecord:
        text = clean_text(text, "goal", max_chars=MAX_GOAL_CHARS)
        value = parse_enum(GoalStatus, status, "goal status").value
        with self.db.session() as s:
            _get_pair(s, pair_id)
            goal = Goal(pair_id=pair_id, text=text, status=value)
            s.add(goal)
            s.flush()
            return GoalRecord(goal.id, goal.text, goal.status)

    def update_goal(
        self, pair_id: int, goal_id: int, *, status: str | None = None, text: str | None = None
    ) -> GoalRecord:
        with self.db.session() as s:
            goal = s.get(Goal, goal_id)
            if goal is None or goal.pair_id != pair_id:
                raise NotFound(f"Pair {pair_id} has no goal {goal_id}.")
            if status is not None:
                goal.status = parse_enum(GoalStatus, status, "goal status").value
            if text is not None:
                goal.text = clean_text(text, "goal", max_chars=MAX_GOAL_CHARS)
            s.flush()
            return GoalRecord(goal.id, goal.text, goal.status)

    # -- sessions ----------------------------------------------------------
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
            pair = _get_pair(s, pair_id)
            length = session_minutes(
                minutes if minutes is not None else pair.programme.default_session_minutes)
            session = Session(
                pair_id=pair_id, date=day, status=status_value, minutes=length, notes=notes
            )
            s.add(session)
            s.flush()
            return _session(session, pair)

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
            pair = _get_pair(s, pair_id)
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
            return _session(session, pair)

    def save_agenda(self, pair_id: int, agenda: dict, *, date: dt.date | str, minutes: int,
                    today: dt.date | None = None) -> SessionRecord:
        """Attach an agenda to the pair's next scheduled session, booking it on ``date`` if
        there is none. One transaction that holds the pair's write lock from the start, so two
        agendas prepared at once for the same pair share one session instead of booking two."""
        today = today or dt.date.today()
        day = session_day(date)
        minutes = session_minutes(minutes)
        with self.db.session() as s:
            pair = _lock_pair(s, pair_id)
            session = _next_scheduled(s, pair_id, today)
            if session is None:
                session = Session(pair_id=pair_id, date=day, status=SessionStatus.scheduled, minutes=minutes,
                                  notes="")
                s.add(session)
            session.minutes = minutes
            session.agenda = agenda
            s.flush()
            return _session(session, pair)

    def next_session(self, pair_id: int, *, today: dt.date | None = None) -> SessionRecord | None:
        """The pair's next session: its earliest scheduled one from today on. An agenda is saved
        on it (save_agenda), and it is the agenda the API and the prep page show; a booking
        whose date passed unlogged is not it."""
        today = today or dt.date.today()
        with self.db.session() as s:
            pair = _get_pair(s, pair_id)
            session = _next_scheduled(s, pair_id, today)
            return _session(session, pair) if session else None

    def get_session(self, pair_id: int, session_id: int) -> SessionRecord:
        with self.db.session() as s:
            pair = _get_pair(s, pair_id)
            session = s.get(Session, session_id)
            if session is None or session.pair_id != pair_id:
                raise NotFound(f"Pair {pair_id} has no session {session_id}.")
            return _session(session, pair)

    # -- reflections -------------------------------------------------------
    def add_reflection(
        self,
        pair_id: int,
        session_id: int,
        author: int | str,
        text: str,
        *,
        visibility: str = "private",
        summary: dict | None = None,
        created_at: dt.datetime | None = None,
        action_items: Sequence[dict] = (),
    ) -> ReflectionRecord:
        """Save a reflection, its summary and the action items it found in one transaction."""
        text = clean_text(text, "reflection", max_chars=MAX_REFLECTION_CHARS)
        visibility = parse_enum(Visibility, visibility, "visibility").value
        with self.db.session() as s:
            pair = _get_pair(s, pair_id)
            session = s.get(Session, session_id)
            if session is None or session.pair_id != pair_id:
                raise NotFound(f"Pair {pair_id} has no session {session_id}.")
            person = _resolve_person(s, author)
            if person.id not in (pair.mentor_id, pair.mentee_id):
                raise RuleViolation(
                    f"{person.name} is not in pair {pair_id}; only its mentor and mentee reflect."
                )
            reflection = Reflection(
                session_id=session_id, author_id=person.id, text=text, visibility=visibility,
            )
            _set_summary(reflection, summary)
            if created_at is not None:
                reflection.created_at = created_at
            s.add(reflection)
            s.flush()
            _add_found_items(s, pair.id, reflection.id, action_items)
            s.flush()
            return _reflection(reflection, pair)

    def set_reflection_summary(
        self,
        reflection_id: int,
        summary: dict,
        *,
        action_items: Sequence[dict] = (),
        confirmed: bool = False,
    ) -> ReflectionRecord:
        """Save a summary and the action items it found, in one transaction."""
        with self.db.session() as s:
            reflection = s.get(Reflection, reflection_id)
            if reflection is None:
                raise NotFound(f"No reflection {reflection_id}.")
            pair = reflection.session.pair
            _set_summary(reflection, summary)
            reflection.summary_confirmed = confirmed
            _add_found_items(s, pair.id, reflection.id, action_items)
            s.flush()
            return _reflection(reflection, pair)

    def update_reflection(self, pair_id: int, reflection_id: int, *, visibility: str | None = None,
                          confirmed: bool | None = None, summary_text: str | None = None,
                          action_items: Sequence[dict] | None = None,
                          blockers: Sequence[str] | None = None, sentiment: str | None = None,
                          corrections: Sequence[dict] = ()) -> ReflectionRecord:
        """The author's edits: who sees it, confirmation, their own wording of the summary,
        and their corrections of the action items, blockers and sentiment the reader found
        (kept as labelled examples for `coach reader retrain`). An edited summary is shared
        again only once confirmed again; whatever stops being shared, or is replaced, leaves
        the saved agendas and the chat histories it reached."""
        with self.db.session() as s:
            reflection = _get_reflection(s, pair_id, reflection_id)
            was_shared = _reflection(reflection, reflection.session.pair).shared_with_pair
            if visibility is not None:
                reflection.visibility = parse_enum(Visibility, visibility, "visibility").value
            summary = dict(reflection.summary or {})
            edited = False
            if summary_text is not None:
                summary["summary"] = clean_text(summary_text, "summary", max_chars=2000)
                summary["edited_by_author"] = edited = True
            if action_items is not None:
                items = [_checked_item(item) for item in action_items]
                if was_shared:
                    _forget_shared_traces(s, pair_id, reflection_id)
                s.execute(delete(ActionItem).where(ActionItem.reflection_id == reflection_id))
                _add_found_items(s, pair_id, reflection_id, items)
                summary["action_items"] = items
                edited = True
            if blockers is not None:
                summary["blockers"] = [clean_text(b, "blocker", max_chars=MAX_SHORT_TEXT)
                                       for b in blockers if (b or "").strip()]
                edited = True
            if sentiment is not None:
                summary["sentiment"] = parse_enum(Sentiment, sentiment, "sentiment").value
                edited = True
            if edited:
                summary["edited_by_author"] = True
                _set_summary(reflection, summary)
                reflection.summary_confirmed = False
            for row in corrections:
                s.add(ReaderCorrection(reflection_id=reflection_id, **row))
            if confirmed is not None:
                reflection.summary_confirmed = confirmed
            s.flush()
            record = _reflection(reflection, reflection.session.pair)
            if was_shared and not record.shared_with_pair:
                _forget_shared_traces(s, pair_id, reflection_id)
            return record

    def reader_corrections(self, programme_id: int | None = None) -> list[dict]:
        """Authors' corrections of the reader, oldest first (for `coach reader retrain`)."""
        with self.db.session() as s:
            query = (select(ReaderCorrection, Pair.programme_id)
                     .join(Reflection, Reflection.id == ReaderCorrection.reflection_id)
                     .join(Session, Session.id == Reflection.session_id)
                     .join(Pair, Pair.id == Session.pair_id).order_by(ReaderCorrection.id))
            if programme_id is not None:
                query = query.where(Pair.programme_id == programme_id)
            return [{"label": c.label, "sentence": c.sentence, "value": c.value,
                     "detail": c.detail, "programme_id": prog} for c, prog in s.execute(query)]

    def delete_reflection(self, pair_id: int, reflection_id: int) -> None:
        """Delete a reflection with everything derived from it: its action items (and their
        follow-ups in saved agendas) and the chat answers that cited its summary."""
        with self.db.session() as s:
            reflection = _get_reflection(s, pair_id, reflection_id)
            _forget_shared_traces(s, pair_id, reflection_id)
            s.execute(delete(ActionItem).where(ActionItem.reflection_id == reflection_id))
            s.delete(reflection)

    # -- action items ------------------------------------------------------
    def add_action_item(
        self,
        pair_id: int,
        text: str,
        owner: str,
        *,
        due: dt.date | str | None = None,
        origin: str = "manual",
        done: bool = False,
    ) -> ActionItemRecord:
        text = clean_text(text, "action item", max_chars=MAX_SHORT_TEXT)
        owner_value = parse_enum(Owner, owner, "owner").value
        with self.db.session() as s:
            _get_pair(s, pair_id)
            item = ActionItem(
                pair_id=pair_id, text=text, owner=owner_value,
                due=parse_date(due, "due date"), origin=origin, done=done,
            )
            s.add(item)
            s.flush()
            return _action(item)

    def set_action_done(
        self, pair_id: int, item_id: int, done: bool = True, *, today: dt.date | None = None
    ) -> ActionItemRecord:
        with self.db.session() as s:
            item = s.get(ActionItem, item_id)
            if item is None or item.pair_id != pair_id:
                raise NotFound(f"Pair {pair_id} has no action item {item_id}.")
            item.done = done
            item.done_at = (today or dt.date.today()) if done else None
            s.flush()
            return _action(item)

    # -- chat history ------------------------------------------------------
    def add_chat_turn(self, pair_id: int, person_id: int, question: str, answer: str,
                      meta: dict | None = None) -> None:
        """Save a question and its answer together, so history never holds half a turn."""
        with self.db.session() as s:
            _get_pair(s, pair_id)
            s.add(ChatMessage(pair_id=pair_id, person_id=person_id, role="user", content=question))
            s.add(ChatMessage(pair_id=pair_id, person_id=person_id, role="assistant",
                              content=answer, meta=meta))

    def chat_history(self, pair_id: int, person_id: int, limit: int = 50, *,
                     since: dt.datetime | None = None) -> list[dict]:
        """A person's chat about a pair, oldest first; ``since`` hides what came before (what a
        credential someone else issued may not read)."""
        with self.db.session() as s:
            query = (select(ChatMessage)
                     .where(ChatMessage.pair_id == pair_id, ChatMessage.person_id == person_id))
            if since is not None:
                query = query.where(ChatMessage.created_at >= since)
            rows = list(s.scalars(query.order_by(ChatMessage.id.desc()).limit(limit)))
            return [{"id": m.id, "role": m.role, "content": m.content, "meta": m.meta,
                     "created_at": m.created_at.isoformat()} for m in reversed(rows)]

    # -- counts ------------------------------------------------------------
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


def _get_reflection(s: OrmSession, pair_id: int, reflection_id: int) -> Reflection:
    reflection = s.get(Reflection, reflection_id)
    if reflection is None or reflection.session.pair_id != pair_id:
        raise NotFound(f"Pair {pair_id} has no reflection {reflection_id}.")
    return reflection


def _forget_shared_traces(s: OrmSession, pair_id: int, reflection_id: int) -> None:
    """Remove what a reflection's shared summary left elsewhere: agenda items that came from it
    (follow-ups of its action items, the points it left open; their minutes go to the next
    item) in saved agendas, and chat turns that cited it."""
    cited = reflection_source(pair_id, reflection_id)
    items = set(s.scalars(select(ActionItem.id).where(ActionItem.reflection_id == reflection_id)))
    sources = {action_item_source(pair_id, i) for i in items} | {cited}
    for session in s.scalars(select(Session).where(Session.pair_id == pair_id,
                                                   Session.agenda.is_not(None))):
        agenda = dict(session.agenda)
        kept, freed = [], 0
        for item in agenda.get("items", []):
            if item.get("action_item_id") in items or cited in (item.get("sources") or []):
                freed += int(item.get("minutes") or 0)
                continue
            if freed:
                item = {**item, "minutes": int(item.get("minutes") or 0) + freed}
                freed = 0
            kept.append(item)
        if freed and kept:
            kept[-1] = {**kept[-1], "minutes": int(kept[-1].get("minutes") or 0) + freed}
        if len(kept) != len(agenda.get("items", [])):
            agenda["items"] = kept
            agenda["sources"] = [x for x in agenda.get("sources", []) if x not in sources]
            if "provenance" in agenda:
                agenda["provenance"] = {**agenda["provenance"], "sources": [
                    x for x in agenda["provenance"].get("sources", []) if x not in sources]}
            session.agenda = agenda
    for answer in s.scalars(select(ChatMessage).where(ChatMessage.pair_id == pair_id,
                                                      ChatMessage.role == "assistant")):
        if any(c.get("source") == cited for c in (answer.meta or {}).get("citations", [])):
            question = s.scalar(select(ChatMessage).where(
                ChatMessage.pair_id == pair_id, ChatMessage.person_id == answer.person_id,
                ChatMessage.role == "user", ChatMessage.id < answer.id)
                .order_by(ChatMessage.id.desc()).limit(1))
            if question is not None:
                s.delete(question)
            s.delete(answer)
    s.flush()


def _set_summary(reflection: Reflection, summary: dict | None) -> None:
    reflection.summary = summary
    reflection.sentiment = (summary or {}).get("sentiment")
    reflection.engagement = (summary or {}).get("engagement")
    reflection.blocker_count = len((summary or {}).get("blockers") or [])
    for signal in READER_SIGNALS:
        setattr(reflection, signal, bool((summary or {}).get(signal)))


def _checked_item(item: dict) -> dict:
    return {"text": clean_text(item.get("text"), "action item", max_chars=MAX_SHORT_TEXT),
            "owner": parse_enum(Owner, item.get("owner") or "mentee", "owner").value,
            "due": (lambda d: d.isoformat() if d else None)(parse_date(item.get("due"), "due date"))}


def _add_found_items(s: OrmSession, pair_id: int, reflection_id: int, items: Sequence[dict]) -> None:
    for item in items:
        s.add(ActionItem(
            pair_id=pair_id,
            owner=parse_enum(Owner, item.get("owner", "mentee"), "owner").value,
            text=clean_text(item["text"], "action item", max_chars=MAX_SHORT_TEXT),
            due=parse_date(item.get("due"), "due date"),
            origin="reflection",
            reflection_id=reflection_id,
        ))


# -- loading helpers -------------------------------------------------------
def _resolve_person(s: OrmSession, ref: int | str) -> Person:
    person: Person | None
    if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit()):
        person = s.get(Person, int(ref))
    else:
        person = s.scalar(select(Person).where(Person.email == str(ref).strip().lower()))
    if person is None:
        raise NotFound(f"No person {ref!r}. List people with `coach users list`.")
    return person


def _next_scheduled(s: OrmSession, pair_id: int, today: dt.date) -> Session | None:
    """The pair's earliest scheduled session from today on (the one an agenda is for)."""
    return s.scalar(
        select(Session)
        .where(Session.pair_id == pair_id, Session.status == SessionStatus.scheduled, Session.date >= today)
        .order_by(Session.date, Session.id)
        .limit(1)
    )


def _lock_pair(s: OrmSession, pair_id: int) -> Pair:
    """The pair, locked until the transaction ends. A no-op UPDATE is the portable lock: a row
    lock on PostgreSQL; on SQLite it opens the write transaction before anything is read."""
    s.execute(update(Pair).where(Pair.id == pair_id).values(cadence_days=Pair.cadence_days))
    return _get_pair(s, pair_id)


def _get_pair(s: OrmSession, pair_id: int) -> Pair:
    pair = s.get(Pair, pair_id)
    if pair is None:
        raise NotFound(f"No pair {pair_id}. List pairs with `coach pairs list`.")
    return pair


def _pair_query():
    return select(Pair).options(
        selectinload(Pair.mentor),
        selectinload(Pair.mentee),
        selectinload(Pair.goals),
        selectinload(Pair.action_items),
        selectinload(Pair.sessions).selectinload(Session.reflections),
    )


def _load_pair_record(s: OrmSession, pair_id: int) -> PairRecord:
    pair = s.scalar(_pair_query().where(Pair.id == pair_id))
    if pair is None:
        raise NotFound(f"No pair {pair_id}. List pairs with `coach pairs list`.")
    return _pair(pair)


def load_pair_records(s: OrmSession, ids: list[int] | None) -> list[PairRecord]:
    query = _pair_query().order_by(Pair.id)
    if ids is not None:
        if not ids:
            return []
        query = query.where(Pair.id.in_(ids))
    return [_pair(p) for p in s.scalars(query)]


def _programme(p: Programme) -> ProgrammeRecord:
    return ProgrammeRecord(
        p.id, p.name, p.objectives, p.default_cadence_days, p.default_session_minutes,
        p.starts_on, p.ends_on, dict(p.health_thresholds or {}),
    )


def _person(p: Person) -> PersonRecord:
    return PersonRecord(p.id, p.name, p.email, p.role, p.department, p.manager_id)


def _reflection(r: Reflection, pair: Pair) -> ReflectionRecord:
    role = "mentor" if r.author_id == pair.mentor_id else "mentee"
    return ReflectionRecord(
        r.id, r.session_id, r.author_id, role, r.text, r.visibility, r.created_at,
        r.summary, r.summary_confirmed,
    )


def _session(sess: Session, pair: Pair) -> SessionRecord:
    return SessionRecord(
        sess.id, sess.date, sess.status, sess.minutes, sess.agenda, sess.notes,
        tuple(_reflection(r, pair) for r in sess.reflections),
    )


def _action(a: ActionItem) -> ActionItemRecord:
    return ActionItemRecord(
        a.id, a.owner, a.text, a.due, a.done, a.done_at, a.origin, a.reflection_id, a.created_at
    )


def _pair(p: Pair) -> PairRecord:
    return PairRecord(
        id=p.id,
        programme_id=p.programme_id,
        mentor=_person(p.mentor),
        mentee=_person(p.mentee),
        focus=tuple(p.focus or ()),
        cadence_days=p.cadence_days,
        starts_on=p.starts_on,
        ends_on=p.ends_on,
        status=p.status,
        goals=tuple(GoalRecord(g.id, g.text, g.status) for g in p.goals),
        sessions=tuple(_session(x, p) for x in sorted(p.sessions, key=lambda x: (x.date, x.id))),
        action_items=tuple(_action(a) for a in p.action_items),
    )

