"""Each member's prep chat with the coach, theirs alone."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from coach.store.db import Database
from coach.store.models import ChatMessage
from coach.store.rows import pair_row


class ChatRecords:
    """The store's prep chats: each member's own, with the coach."""

    db: Database

    def add_chat_turn(self, pair_id: int, person_id: int, question: str, answer: str,
                      meta: dict | None = None) -> None:
        """Save a question and its answer together, so history never holds half a turn."""
        with self.db.session() as s:
            pair_row(s, pair_id)
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
