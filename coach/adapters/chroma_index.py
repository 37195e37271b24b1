"""Chroma through langchain-chroma: embedded (PersistentClient) or a server (HttpClient)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

from coach.errors import BackendUnavailable
from coach.ports import Chunk, MetadataFilter

_GENERATION_KEY = "coach_generation"
_GENERATION_TTL_S = 2.0


def _where(where: MetadataFilter | None) -> dict[str, Any] | None:
    if where is None or not where.clauses:
        return None
    parts = [
        {key: {"$in": list(values)}} if len(values) > 1 else {key: values[0]}
        for key, values in where.clauses
    ]
    return parts[0] if len(parts) == 1 else {"$and": parts}


def make_client(location: str):
    """A Chroma client with telemetry off; ``http(s)://host:port`` means a Chroma server."""
    os.environ["ANONYMIZED_TELEMETRY"] = "False"
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if location.startswith(("http://", "https://")):
        url = urlparse(location)
        try:
            client = chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=settings,
            )
            client.heartbeat()
        except Exception as exc:  # the client raises several unrelated types
            raise BackendUnavailable(
                f"Cannot reach the Chroma server at {location} ({exc.__class__.__name__}). "
                "Start it with `chroma run --path DIR --port PORT` or fix COACH_VECTOR_STORE."
            ) from None
        return client
    os.makedirs(location, exist_ok=True)
    return chromadb.PersistentClient(path=location, settings=settings)


class ChromaIndex:
    """The VectorIndex port over a Chroma collection. Embeddings always come from ours."""

    def __init__(self, embedder, location: str, collection: str = "coach"):
        from langchain_chroma import Chroma

        self.location = location
        self._client = make_client(location)
        self._store = Chroma(
            collection_name=collection,
            embedding_function=embedder,
            client=self._client,
            collection_configuration={"hnsw": {"space": "cosine"}},
        )
        self._embedder = embedder
        self._name = collection
        self._local_generation = 0
        self._remote: tuple[float, str] = (0.0, "")
        self._lock = threading.Lock()

    @property
    def collection(self):
        return self._store._collection

    # -- writes ------------------------------------------------------------
    def upsert(self, chunks: Sequence[Chunk]) -> None:
        if not chunks:
            return
        self._store.add_texts(
            [c.text for c in chunks], metadatas=[dict(c.metadata) for c in chunks],
            ids=[c.id for c in chunks],
        )
        self._bump()

    def delete(self, *, ids: Sequence[str] | None = None,
               where: MetadataFilter | None = None) -> None:
        if ids:
            self.collection.delete(ids=list(ids))
        clause = _where(where)
        if clause is not None:
            self.collection.delete(where=clause)
        self._bump()

    def _bump(self) -> None:
        with self._lock:
            self._local_generation += 1
            stamp = f"{os.getpid()}-{time.time_ns()}"
            try:
                self.collection.modify(metadata={_GENERATION_KEY: stamp})
            except Exception:  # pragma: no cover - older servers without modify
                pass
            self._remote = (time.monotonic(), stamp)

    # -- reads -------------------------------------------------------------
    def search(self, query: str, k: int,
               where: MetadataFilter | None = None) -> list[tuple[Chunk, float]]:
        vector = self._embedder.embed_query(query)
        result = self.collection.query(
            query_embeddings=[vector], n_results=k, where=_where(where),
            include=["documents", "metadatas", "distances"],
        )
        ids = result["ids"][0] if result["ids"] else []
        return [
            (Chunk(cid, doc or "", dict(meta or {})), float(dist))
            for cid, doc, meta, dist in zip(
                ids, result["documents"][0], result["metadatas"][0], result["distances"][0],
                strict=True,
            )
        ]

    def get(self, where: MetadataFilter | None = None, include_text: bool = True) -> list[Chunk]:
        include = ["metadatas", "documents"] if include_text else ["metadatas"]
        chunks: list[Chunk] = []
        page, offset = 5000, 0
        while True:
            result = self.collection.get(where=_where(where), include=include, limit=page,
                                         offset=offset)
            docs = result.get("documents") or [""] * len(result["ids"])
            for cid, doc, meta in zip(result["ids"], docs, result["metadatas"], strict=True):
                chunks.append(Chunk(cid, doc or "", dict(meta or {})))
            if len(result["ids"]) < page:
                break
            offset += page
        chunks.sort(key=lambda c: c.id)
        return chunks

    def count(self) -> int:
        return self.collection.count()

    def generation(self) -> str:
        """Local writes show at once; other processes' writes within a couple of seconds."""
        now = time.monotonic()
        with self._lock:
            checked, stamp = self._remote
            if now - checked > _GENERATION_TTL_S:
                try:
                    meta = self._client.get_collection(self._name).metadata or {}
                    stamp = str(meta.get(_GENERATION_KEY, ""))
                except Exception:
                    pass
                self._remote = (now, stamp)
            return f"{self._local_generation}:{stamp}"
