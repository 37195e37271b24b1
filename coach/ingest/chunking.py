"""Turn a loaded document into index chunks that keep their headings as metadata."""

from __future__ import annotations

import hashlib
from typing import Any

from coach.adapters.text_splitter import recursive_splitter
from coach.domain.vocabulary import FOCUS_VALUES
from coach.ingest.loaders import LoadedDocument
from coach.ports import Chunk

# Bump when chunking changes, so every file is re-ingested once.
CHUNKER_VERSION = "4"
MAX_CHARS = 1000
OVERLAP = 150
KNOWN_KINDS = ("guideline", "topic", "document")


def content_hash(data: bytes) -> str:
    return hashlib.sha256(CHUNKER_VERSION.encode() + b"\0" + data).hexdigest()


def _scalar(value: Any) -> str | int | float | bool:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def document_metadata(doc: LoadedDocument, source: str, digest: str) -> dict[str, Any]:
    front = doc.front_matter
    kind = str(front.get("kind", "guideline")).strip().lower()
    if kind not in KNOWN_KINDS:
        kind = "document"
    focus = str(front.get("focus", "general")).strip().lower()
    if focus not in FOCUS_VALUES:
        focus = "general"
    meta: dict[str, Any] = {
        "source": source,
        "title": doc.title,
        "kind": kind,
        "focus": focus,
        "scope": "global",
        "content_hash": digest,
    }
    if kind == "topic" and front.get("id"):
        meta["topic_id"] = str(front["id"])
        meta["level"] = str(front.get("level", ""))
    for key in ("related", "aliases"):
        if key in front:
            meta[key] = _scalar(front[key])
    return meta


def chunk_document(doc: LoadedDocument, source: str, digest: str) -> list[Chunk]:
    base = document_metadata(doc, source, digest)
    pieces: list[tuple[str, str, list[str]]] = []  # (heading path, body, questions)
    if base["kind"] == "topic":
        # A topic is small and only useful whole.
        body = "\n\n".join(
            (f"{s.headings[-1]}:\n{s.text}" if len(s.headings) > 1 else s.text)
            for s in doc.sections
        )
        pieces.append((doc.title, body, []))
    else:
        split = None
        for section in doc.sections:
            heading = " > ".join(section.headings) if section.headings else doc.title
            if len(section.text) <= MAX_CHARS * 1.2:
                pieces.append((heading, section.text, section.questions))
                continue
            split = split or recursive_splitter(MAX_CHARS, OVERLAP)
            pieces.extend((heading, part, section.questions) for part in split(section.text))
    source_key = hashlib.sha1(source.encode()).hexdigest()[:12]
    chunks = []
    for i, (heading, body, questions) in enumerate(pieces):
        prefix = f"{heading}\n"
        meta = dict(base, heading=heading, chunk_index=i, body_start=len(prefix))
        parent = f"{source_key}-{digest[:12]}-{i}"
        chunks.append(Chunk(parent, prefix + body, meta))
        for j, question in enumerate(questions):
            chunks.append(Chunk(f"{parent}-q{j}", question,
                                dict(meta, role="question", parent=parent, body_start=0)))
    return chunks
