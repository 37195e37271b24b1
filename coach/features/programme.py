"""Programme operations that keep the store and the pair index in step."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from coach.domain.records import GoalRecord, PairRecord, PersonRecord, ReflectionRecord
from coach.retrieval.pair_index import PairIndexer
from coach.store.repository import PairCreated, Store


class IndexedWrites:
    """The store's writes that change what a pair's index entries hold (goals, shared summaries,
    names), each followed by re-indexing that pair: the container's ``programme``."""

    def __init__(self, store: Store, pair_indexer: PairIndexer):
        self.store = store
        self.pair_indexer = pair_indexer

    def add_pair(self, mentor, mentee, focus: Sequence[str] | str, *, goals: Iterable[str] = (),
                 cadence_days: int | None = None, starts_on: dt.date | str | None = None,
                 ends_on: dt.date | str | None = None, programme_id: int | None = None,
                 status: str = "active") -> PairCreated:
        created = self.store.add_pair(
            mentor, mentee, focus, goals=goals, cadence_days=cadence_days, starts_on=starts_on,
            ends_on=ends_on, programme_id=programme_id, status=status,
        )
        self.pair_indexer.sync(created.pair)
        return created

    def add_goal(self, pair_id: int, text: str, status: str = "open") -> GoalRecord:
        goal = self.store.add_goal(pair_id, text, status)
        self.reindex(pair_id)
        return goal

    def update_goal(self, pair_id: int, goal_id: int, *, status: str | None = None,
                    text: str | None = None) -> GoalRecord:
        goal = self.store.update_goal(pair_id, goal_id, status=status, text=text)
        self.reindex(pair_id)
        return goal

    def delete_pair(self, pair_id: int) -> None:
        """The pair with its goals, sessions, reflections, action items, chat and index entries."""
        self.store.delete_pair(pair_id)
        self.pair_indexer.remove(pair_id)

    def update_reflection(self, pair_id: int, reflection_id: int, *,
                          visibility: str | None = None, confirmed: bool | None = None,
                          summary_text: str | None = None,
                          action_items: list[dict] | None = None,
                          blockers: list[str] | None = None, sentiment: str | None = None,
                          reader=None) -> ReflectionRecord:
        """The author's edits; the pair's index follows what is now shared. Corrections of
        action items, blockers or sentiment are also kept as labelled examples: ``reader``
        rereads the reflection to tell which of its sentences each change is about."""
        found = []
        if reader is not None and (action_items, blockers, sentiment) != (None, None, None):
            found = self._corrections(pair_id, reflection_id, reader, action_items, blockers,
                                      sentiment)
        updated = self.store.update_reflection(
            pair_id, reflection_id, visibility=visibility, confirmed=confirmed,
            summary_text=summary_text, action_items=action_items, blockers=blockers,
            sentiment=sentiment, corrections=found)
        self.reindex(pair_id)
        return updated

    def _corrections(self, pair_id, reflection_id, reader, action_items, blockers, sentiment):
        from coach.domain.records import reading_context
        from coach.reader.corrections import corrections

        pair = self.store.get_pair(pair_id)
        reflection = pair.reflection(reflection_id)
        context = reading_context(pair, reflection.session_id,
                                  written=reflection.created_at.date())
        context.pop("focus")
        reading = reader.read(reflection.text, reflection.author_role, **context)
        return [c.to_row() for c in corrections(reading, reflection.text,
                                                action_items=action_items, blockers=blockers,
                                                sentiment=sentiment)]

    def delete_reflection(self, pair_id: int, reflection_id: int) -> None:
        self.store.delete_reflection(pair_id, reflection_id)
        self.reindex(pair_id)

    def delete_person(self, person: int | str) -> PersonRecord:
        return self.store.delete_person(person)

    def anonymise_person(self, person: int | str) -> PersonRecord:
        record, pairs = self.store.anonymise_person(person)
        for pair_id in pairs:  # names and summaries in the index go with them
            self.reindex(pair_id)
        return record

    def reindex(self, pair_id: int) -> PairRecord:
        # Held, so two workers syncing one pair take turns: a sync from a stale read would
        # delete the entries the other just added.
        with self.store.holding_pair(pair_id) as pair:
            self.pair_indexer.sync(pair)
        return pair

    def reindex_all(self) -> int:
        """Every pair from one batch read, holding none: for `coach import`, when nothing else
        writes. Live repairs go pair by pair through reindex()."""
        pairs = self.store.all_pair_records()
        for pair in pairs:
            self.pair_indexer.sync(pair)
        return len(pairs)
