"""The ingestion manifest: which file was ingested, with which content hash and chunk count."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select

from coach.store.db import Database
from coach.store.models import Document, utcnow

# A heading or <title> can be any length; the column holds 500 characters, and PostgreSQL
# (unlike SQLite) refuses longer values instead of storing them.
TITLE_MAX = Document.__table__.c.title.type.length


@dataclass(frozen=True)
class DocumentRecord:
    source: str
    path: str | None
    kind: str
    content_hash: str
    chunk_count: int
    title: str
    ingested_at: dt.datetime


class DocumentManifest:
    def __init__(self, db: Database):
        self.db = db

    def all(self) -> dict[str, DocumentRecord]:
        with self.db.session() as s:
            return {d.source: _record(d) for d in s.scalars(select(Document).order_by(Document.source))}

    def record(self, entries: list[DocumentRecord]) -> None:
        """Insert or replace entries in one transaction."""
        if not entries:
            return
        with self.db.session() as s:
            existing = {
                d.source: d
                for d in s.scalars(
                    select(Document).where(Document.source.in_([e.source for e in entries]))
                )
            }
            for e in entries:
                row = existing.get(e.source) or Document(source=e.source)
                row.path, row.kind, row.content_hash = e.path, e.kind, e.content_hash
                row.chunk_count, row.title = e.chunk_count, (e.title or "")[:TITLE_MAX]
                row.ingested_at = utcnow()
                s.add(row)

    def remove(self, sources: list[str]) -> None:
        if not sources:
            return
        with self.db.session() as s:
            s.execute(delete(Document).where(Document.source.in_(sources)))


def _record(d: Document) -> DocumentRecord:
    return DocumentRecord(d.source, d.path, d.kind, d.content_hash, d.chunk_count, d.title,
                          d.ingested_at)
