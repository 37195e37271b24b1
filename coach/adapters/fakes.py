"""Deterministic fakes for every port, for fast tests and for wiring without models."""

from __future__ import annotations

import hashlib
import itertools
import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from coach.ports import ChatResult, Chunk, MetadataFilter, ModelCapabilities, scope_group
from coach.text.tokens import tokenize


class HashingEmbedder:
    """Bag of hashed word stems, L2-normalised: similar words give similar vectors."""

    def __init__(self, dimension: int = 256):
        self.dimension = dimension
        self.calls = 0

    def _embed(self, text: str) -> list[float]:
        vector = [0.0] * self.dimension
        for token in tokenize(text):
            digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
            slot = int.from_bytes(digest[:4], "little") % self.dimension
            vector[slot] += 1.0 if digest[4] % 2 else -1.0
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        return [v / norm for v in vector]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        return [self._embed(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        self.calls += 1
        return self._embed(text)


class InMemoryIndex:
    """A VectorIndex in a dict: exact cosine search, the same filter semantics as Chroma."""

    def __init__(self, embedder: Any | None = None):
        self.embedder = embedder or HashingEmbedder()
        self._chunks: dict[str, Chunk] = {}
        self._vectors: dict[str, list[float]] = {}
        self._generation = itertools.count()
        self._current = {"global": next(self._generation), "pairs": next(self._generation)}
        self._lock = threading.Lock()

    def fresh(self) -> InMemoryIndex:
        return InMemoryIndex(self.embedder)

    def upsert(self, chunks: Sequence[Chunk]) -> None:
        vectors = self.embedder.embed_documents([c.text for c in chunks]) if chunks else []
        with self._lock:
            for chunk, vector in zip(chunks, vectors, strict=True):
                self._chunks[chunk.id] = chunk
                self._vectors[chunk.id] = vector
            for group in {scope_group(c.metadata.get("scope", "global")) for c in chunks}:
                self._current[group] = next(self._generation)

    def delete(self, *, ids: Sequence[str] | None = None,
               where: MetadataFilter | None = None) -> None:
        with self._lock:
            doomed = set(ids or ())
            if where is not None:
                doomed |= {cid for cid, c in self._chunks.items() if where.matches(c.metadata)}
            groups = {scope_group(self._chunks[cid].metadata.get("scope", "global"))
                      for cid in doomed if cid in self._chunks}
            for cid in doomed:
                self._chunks.pop(cid, None)
                self._vectors.pop(cid, None)
            for group in groups:
                self._current[group] = next(self._generation)

    def search(self, query: str, k: int,
               where: MetadataFilter | None = None) -> list[tuple[Chunk, float]]:
        q = self.embedder.embed_query(query)
        with self._lock:
            scored = [
                (c, 1.0 - sum(a * b for a, b in zip(q, self._vectors[cid], strict=True)))
                for cid, c in self._chunks.items()
                if where is None or where.matches(c.metadata)
            ]
        scored.sort(key=lambda item: (item[1], item[0].id))
        return scored[:k]

    def get(self, where: MetadataFilter | None = None, include_text: bool = True,
            include_vectors: bool = False) -> list[Chunk]:
        with self._lock:
            found = [c for c in sorted(self._chunks.values(), key=lambda c: c.id)
                     if where is None or where.matches(c.metadata)]
            if include_vectors:
                found = [replace(c, vector=list(self._vectors[c.id])) for c in found]
            return found

    def count(self) -> int:
        return len(self._chunks)

    def generation(self, group: str = "global") -> str:
        return str(self._current[group])


CHOOSES = ModelCapabilities(phrases=False)  # as the embedded model
PHRASES = ModelCapabilities(phrases=True)  # as a capable model behind a server


class FakeChatModel:
    """Replies from a queue and records every call (messages, schema, max_tokens)."""

    name = "fake"

    def __init__(self, replies: Sequence[str | Exception] = (), default: str | None = None, *,
                 capabilities: ModelCapabilities = CHOOSES):
        """By default it stands in for the embedded model, which chooses rather than phrases."""
        self.capabilities = capabilities
        self.replies: list[str | Exception] = list(replies)
        self.default = default
        self.calls: list[dict[str, Any]] = []

    def load(self) -> None:
        pass

    def queue(self, *replies: str | Exception) -> FakeChatModel:
        self.replies.extend(replies)
        return self

    def _next(self) -> str:
        if self.replies:
            reply = self.replies.pop(0)
        elif self.default is not None:
            reply = self.default
        else:
            raise AssertionError("FakeChatModel has no reply queued for this call")
        if isinstance(reply, Exception):
            raise reply
        return reply

    def complete(self, messages, *, json_schema=None, max_tokens=None) -> ChatResult:
        self.calls.append({"messages": messages, "json_schema": json_schema,
                           "max_tokens": max_tokens, "stream": False})
        text = self._next()
        return ChatResult(text, prompt_tokens=sum(len(m["content"]) // 4 for m in messages),
                          completion_tokens=max(1, len(text) // 4))

    def stream(self, messages, *, max_tokens=None) -> Iterator[str]:
        self.calls.append({"messages": messages, "json_schema": None,
                           "max_tokens": max_tokens, "stream": True})
        text = self._next()
        for piece in text.split(" "):
            yield piece + " "
