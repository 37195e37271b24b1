"""Pairs and their goals, with the pairing rules checked as a pair is made."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from coach.domain.errors import Conflict, InvalidInput, NotFound
from coach.domain.records import GoalRecord, PairRecord
from coach.domain.rules import MAX_GOAL_CHARS, check_pairing_rules, clean_text, parse_date
from coach.domain.vocabulary import GoalStatus, PairStatus, parse_enum, parse_focus_list
from coach.store.db import Database
from coach.store.mapping import load_pair_record, load_pair_records
from coach.store.models import Goal, Pair, Person, Programme
from coach.store.rows import lock_pair, pair_row, resolve_person


@dataclass
@dataclass
class PairCreated:
    pair: PairRecord
    warnings: list[str] = field(default_factory=list)


class PairRecords:
    """The store's pairs and their goals; a pair is made only if the pairing rules allow it."""

    db: Database

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
            mentor_p, mentee_p = resolve_person(s, mentor), resolve_person(s, mentee)
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
            return PairCreated(load_pair_record(s, pair.id), warnings)

    @contextmanager
    def holding_pair(self, pair_id: int) -> Iterator[PairRecord]:
        """The pair's record, read while holding the pair until the block ends, so whoever
        keeps state derived from it (the pair's index entries) takes turns and never writes
        from a stale read."""
        with self.db.session() as s:
            yield load_pair_record(s, lock_pair(s, pair_id).id)

    def get_pair(self, pair_id: int) -> PairRecord:
        with self.db.session() as s:
            return load_pair_record(s, pair_id)

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
            pair = pair_row(s, pair_id)
            names = (pair.mentor.name, pair.mentee.name)  # read now: a failed flush ends the unit
            pair.status = value
            try:
                s.flush()
            except IntegrityError as exc:  # uq_pairs_open: reopening beside an open pair
                raise Conflict(
                    f"Pair {pair_id} cannot be reopened: {names[0]} already mentors {names[1]} "
                    "in another open pair. Close that one first."
                ) from exc
            return load_pair_record(s, pair_id)

    def delete_pair(self, pair_id: int) -> None:
        with self.db.session() as s:
            s.delete(pair_row(s, pair_id))

    def add_goal(self, pair_id: int, text: str, status: str = "open") -> GoalRecord:
        text = clean_text(text, "goal", max_chars=MAX_GOAL_CHARS)
        value = parse_enum(GoalStatus, status, "goal status").value
        with self.db.session() as s:
            pair_row(s, pair_id)
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
