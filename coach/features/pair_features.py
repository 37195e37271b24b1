"""The coach's features over the store: agenda, topics, reflection summaries and chat, each
with one entry point here, whose result is checked against its model in
coach.features.results."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from coach.domain.access import member_role
from coach.domain.errors import InvalidInput, NotFound
from coach.domain.records import reading_context
from coach.domain.vocabulary import SessionStatus
from coach.features.agenda import AgendaPlanner
from coach.features.catalogue import TopicCatalogue
from coach.features.chat import ChatEvent, ChatService
from coach.features.programme import IndexedWrites
from coach.features.reflection import ReflectionSummariser
from coach.features.results import Agenda, ReflectionResult, Topics, checked
from coach.features.topic_relevance import TopicRelevance
from coach.features.topics import TopicSuggester, with_sources
from coach.generation.prompts import PromptLibrary
from coach.ports import ChatModel
from coach.reader.reader import Reader
from coach.retrieval.hybrid import HybridRetriever
from coach.store.repository import Store


class PairFeatures:
    """One backend's view of every feature."""

    def __init__(self, store: Store, writes: IndexedWrites, retriever: HybridRetriever,
                 catalogue: TopicCatalogue, prompts: PromptLibrary, reader: Reader,
                 model: ChatModel | None, backend: str, summary_mode: str | None = None,
                 topic_relevance: TopicRelevance | None = None, *, chat_mode: str | None = None):
        self.store = store
        self.writes = writes
        self.backend = backend
        self.topics_service = TopicSuggester(catalogue, retriever, prompts, model, backend,
                                             topic_relevance)
        self.planner = AgendaPlanner(retriever, self.topics_service, prompts, model, backend)
        self.summariser = ReflectionSummariser(catalogue, prompts, reader, model, backend,
                                               summary_mode)
        self.chat_service = ChatService(store, retriever, prompts, model, backend, chat_mode)

    def agenda(self, pair_id: int, minutes: int | None = None, *, save: bool = True,
               today: dt.date | None = None, covered: Iterable[str] = (),
               lead: str | None = None) -> dict[str, Any]:
        """``covered``: notes of topics the pair has covered outside the coach's agendas;
        ``lead``: what the mentor chose to lead with, from a previous agenda's alternatives."""
        pair = self.store.get_pair(pair_id)
        today = today or dt.date.today()
        if minutes is None:
            minutes = self.store.get_programme(pair.programme_id).default_session_minutes
        result = self.planner.plan(pair, minutes, today=today, covered=covered,
                                   lead=lead).value
        if save:
            session = self.store.save_agenda(pair_id, result, date=result["next_date"],
                                             minutes=minutes, today=today)
            result["session_id"] = session.id
        return checked(Agenda, result)

    def topics(self, pair_id: int, k: int = 3) -> dict[str, Any]:
        pair = self.store.get_pair(pair_id)
        return checked(Topics, with_sources(self.topics_service.suggest(pair, k)))

    def reflect(self, pair_id: int, session_id: int | None, author: int | str, text: str, *,
                visibility: str = "private") -> dict[str, Any]:
        """Summarise, then save the reflection, its summary and action items in one transaction."""
        pair = self.store.get_pair(pair_id)
        if session_id is None:
            held = [s for s in pair.sessions if s.status == SessionStatus.held]
            if not held:
                raise NotFound(f"Pair {pair_id} has no held session to reflect on. Log one first.")
            session_id = held[-1].id
        session = next((s for s in pair.sessions if s.id == session_id), None)
        if session is None:
            raise NotFound(f"Pair {pair_id} has no session {session_id}.")
        if session.status != SessionStatus.held:
            raise InvalidInput(f"Session {session_id} is {session.status}; reflect on a held session.")
        person = self.store.get_person(author)
        role = member_role(person, pair)
        result = self.summariser.summarise(
            text, role, **reading_context(pair, session_id, written=dt.date.today())).value
        reflection = self.store.add_reflection(
            pair_id, session_id, person.id, text, visibility=visibility, summary=result,
            action_items=result["action_items"])
        self.writes.reindex(pair_id)
        return checked(ReflectionResult, {
            "reflection_id": reflection.id, "session_id": session_id,
            "visibility": reflection.visibility, "private": reflection.private, **result})

    def chat(self, pair_id: int, person: int | str, message: str, *,
             since: dt.datetime | None = None) -> Iterator[ChatEvent]:
        """``since``: the earliest of the person's earlier chat the answer may draw on."""
        pair = self.store.get_pair(pair_id)
        return self.chat_service.ask(pair, self.store.get_person(person), message, since=since)
