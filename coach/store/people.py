"""People: who they are, their manager, and forgetting them (delete or anonymise)."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from coach.domain.errors import Conflict, InvalidInput, RuleViolation
from coach.domain.records import PersonRecord
from coach.domain.rules import EMAIL_RE, clean_text
from coach.domain.vocabulary import Role, parse_enum
from coach.store.db import Database
from coach.store.mapping import person_record
from coach.store.models import (
    ActionItem,
    ApiToken,
    ChatMessage,
    CredentialEvent,
    Pair,
    Person,
    Reflection,
    Session,
    WebSession,
)
from coach.store.reflections import forget_shared_traces
from coach.store.rows import resolve_person


class PeopleRecords:
    """The store's people; a person is forgotten by deleting or anonymising them."""

    db: Database

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
                manager_id = resolve_person(s, manager).id
            person = Person(
                name=name, email=email, role=role_value, department=department,
                manager_id=manager_id,
            )
            s.add(person)
            try:
                s.flush()
            except IntegrityError as exc:  # another writer added the same email since the check
                raise Conflict(f"Someone with email {email} already exists.") from exc
            return person_record(person)

    def set_manager(self, person: int | str, manager: int | str | None) -> PersonRecord:
        with self.db.session() as s:
            subject = resolve_person(s, person)
            if manager in (None, ""):
                subject.manager_id = None
            else:
                boss = resolve_person(s, manager)
                if boss.id == subject.id:
                    raise RuleViolation("A person cannot be their own manager.")
                subject.manager_id = boss.id
            s.flush()
            return person_record(subject)

    def pairs_of(self, person_id: int) -> list[int]:
        with self.db.session() as s:
            return list(s.scalars(select(Pair.id).where(
                (Pair.mentor_id == person_id) | (Pair.mentee_id == person_id)).order_by(Pair.id)))

    def delete_person(self, ref: int | str) -> PersonRecord:
        """Delete someone who is in no pair, with their credentials and everything they wrote.
        Someone in a pair is refused: their pairs hold their partner's records too."""
        with self.db.session() as s:
            person = resolve_person(s, ref)
            pairs = list(s.scalars(select(Pair.id).where(
                (Pair.mentor_id == person.id) | (Pair.mentee_id == person.id)).order_by(Pair.id)))
            if pairs:
                listed = ", ".join(str(p) for p in pairs)
                raise Conflict(f"{person.name} is in pair(s) {listed}. Delete those pairs first, "
                               "or anonymise the person instead.")
            record = person_record(person)
            s.execute(update(Person).where(Person.manager_id == person.id).values(manager_id=None))
            s.delete(person)
            return record

    def anonymise_person(self, ref: int | str) -> tuple[PersonRecord, list[int]]:
        """Keep a person's place in their pairs (dates, sessions, goals, items added by hand)
        but remove who they are and everything they wrote: reflections with what was derived
        from them, chat, credentials. Returns the person and the pairs to re-index."""
        with self.db.session() as s:
            person = resolve_person(s, ref)
            written = list(s.execute(
                select(Reflection.id, Session.pair_id).join(Session, Session.id == Reflection.session_id)
                .where(Reflection.author_id == person.id)).all())
            for reflection_id, pair_id in written:
                forget_shared_traces(s, pair_id, reflection_id)
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
            return person_record(person), pairs

    def get_person(self, ref: int | str) -> PersonRecord:
        with self.db.session() as s:
            return person_record(resolve_person(s, ref))

    def list_people(self, role: str | None = None) -> list[PersonRecord]:
        with self.db.session() as s:
            query = select(Person).order_by(Person.id)
            if role:
                query = query.where(Person.role == parse_enum(Role, role, "role").value)
            return [person_record(p) for p in s.scalars(query)]
