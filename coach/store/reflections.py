"""Reflections with their summaries and the action items found in them, and what the author corrected."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session as OrmSession

from coach.domain.errors import NotFound, RuleViolation
from coach.domain.records import ActionItemRecord, ReflectionRecord
from coach.domain.rules import MAX_REFLECTION_CHARS, MAX_SHORT_TEXT, clean_text, parse_date
from coach.domain.sources import action_item_source, reflection_source
from coach.domain.vocabulary import Owner, Sentiment, Visibility, parse_enum
from coach.store.db import Database
from coach.store.mapping import action_record, reflection_record
from coach.store.models import (
    READER_SIGNALS,
    ActionItem,
    ChatMessage,
    Pair,
    ReaderCorrection,
    Reflection,
    Session,
)
from coach.store.rows import pair_row, reflection_row, resolve_person


class ReflectionRecords:
    """The store's reflections, their summaries, and the action items found in them."""

    db: Database

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
            pair = pair_row(s, pair_id)
            session = s.get(Session, session_id)
            if session is None or session.pair_id != pair_id:
                raise NotFound(f"Pair {pair_id} has no session {session_id}.")
            person = resolve_person(s, author)
            if person.id not in (pair.mentor_id, pair.mentee_id):
                raise RuleViolation(
                    f"{person.name} is not in pair {pair_id}; only its mentor and mentee reflect."
                )
            reflection = Reflection(
                session_id=session_id, author_id=person.id, text=text, visibility=visibility,
            )
            set_summary(reflection, summary)
            if created_at is not None:
                reflection.created_at = created_at
            s.add(reflection)
            s.flush()
            add_found_items(s, pair.id, reflection.id, action_items)
            s.flush()
            return reflection_record(reflection, pair)

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
            set_summary(reflection, summary)
            reflection.summary_confirmed = confirmed
            add_found_items(s, pair.id, reflection.id, action_items)
            s.flush()
            return reflection_record(reflection, pair)

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
            reflection = reflection_row(s, pair_id, reflection_id)
            was_shared = reflection_record(reflection, reflection.session.pair).shared_with_pair
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
                    forget_shared_traces(s, pair_id, reflection_id)
                s.execute(delete(ActionItem).where(ActionItem.reflection_id == reflection_id))
                add_found_items(s, pair_id, reflection_id, items)
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
                set_summary(reflection, summary)
                reflection.summary_confirmed = False
            for row in corrections:
                s.add(ReaderCorrection(reflection_id=reflection_id, **row))
            if confirmed is not None:
                reflection.summary_confirmed = confirmed
            s.flush()
            record = reflection_record(reflection, reflection.session.pair)
            if was_shared and not record.shared_with_pair:
                forget_shared_traces(s, pair_id, reflection_id)
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
            reflection = reflection_row(s, pair_id, reflection_id)
            forget_shared_traces(s, pair_id, reflection_id)
            s.execute(delete(ActionItem).where(ActionItem.reflection_id == reflection_id))
            s.delete(reflection)

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
            pair_row(s, pair_id)
            item = ActionItem(
                pair_id=pair_id, text=text, owner=owner_value,
                due=parse_date(due, "due date"), origin=origin, done=done,
            )
            s.add(item)
            s.flush()
            return action_record(item)

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
            return action_record(item)


def forget_shared_traces(s: OrmSession, pair_id: int, reflection_id: int) -> None:
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


def set_summary(reflection: Reflection, summary: dict | None) -> None:
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


def add_found_items(s: OrmSession, pair_id: int, reflection_id: int, items: Sequence[dict]) -> None:
    for item in items:
        s.add(ActionItem(
            pair_id=pair_id,
            owner=parse_enum(Owner, item.get("owner", "mentee"), "owner").value,
            text=clean_text(item["text"], "action item", max_chars=MAX_SHORT_TEXT),
            due=parse_date(item.get("due"), "due date"),
            origin="reflection",
            reflection_id=reflection_id,
        ))
