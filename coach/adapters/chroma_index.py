"""Chroma through langchain-chroma: embedded (PersistentClient) or a server (HttpClient)."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from array import array
from collections import OrderedDict
from collections.abc import Sequence
from functools import cached_property
from typing import Any
from urllib.parse import urlparse

from coach.domain.errors import BackendUnavailable
from coach.ports import Chunk, MetadataFilter, scope_group

_GENERATION_KEY = "coach_generation"
GROUPS = ("global", "pairs")
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


class _RememberedDocuments:
    """Our embedder, remembering the vectors of the documents it indexed, process-wide and
    per model: every scratch store (each eval suite, `coach bench`) and every re-ingest
    indexes the same guideline chunks, which cost a forward pass each. Queries go straight
    through, so search timings stay honest."""

    LIMIT = 10_000  # about 15 MB of vectors
    _vectors: OrderedDict[tuple[str, bytes], array] = OrderedDict()
    _lock = threading.Lock()

    def __init__(self, embedder):
        self._embedder = embedder
        path = getattr(embedder, "path", None)  # a model from a folder; fakes are not kept
        self._model = str(path) if path is not None else None

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if self._model is None:
            return self._embedder.embed_documents(texts)
        # keyed by a digest: no text outlives its chunk here (a summary unshared or erased)
        keys = [(self._model, hashlib.sha256(t.encode()).digest()) for t in texts]
        with self._lock:
            known = {k: self._vectors[k] for k in keys if k in self._vectors}
            for k in known:
                self._vectors.move_to_end(k)
        missing = list({k: t for k, t in zip(keys, texts) if k not in known}.items())
        if missing:
            fresh = self._embedder.embed_documents([t for _, t in missing])
            with self._lock:
                for (key, _), vector in zip(missing, fresh, strict=True):
                    known[key] = self._vectors[key] = array("f", vector)
                while len(self._vectors) > self.LIMIT:
                    self._vectors.popitem(last=False)
        return [known[k].tolist() for k in keys]

    def embed_query(self, text: str) -> list[float]:
        return self._embedder.embed_query(text)


_CONFIGURATION = {"hnsw": {"space": "cosine"}}


class ChromaIndex:
    """The VectorIndex port over a Chroma collection. Embeddings always come from ours."""

    def __init__(self, embedder, location: str, collection: str = "coach"):
        self.location = location
        self._client = make_client(location)
        # Created as langchain-chroma creates it; reads go to the collection itself, so a
        # command that only reads never imports LangChain.
        self._collection = self._client.get_or_create_collection(
            name=collection, embedding_function=None, metadata=None, configuration=_CONFIGURATION)
        self._embedder = embedder
        self._name = collection
        self._local_generation = {group: 0 for group in GROUPS}
        self._remote: tuple[float, dict[str, str]] = (0.0, {})
        self._lock = threading.Lock()

    @property
    def collection(self):
        return self._collection

    @cached_property
    def _store(self):
        """LangChain's Chroma over the same collection: it embeds and writes new chunks."""
        from langchain_chroma import Chroma

        return Chroma(collection_name=self._name,
                      embedding_function=_RememberedDocuments(self._embedder),
                      client=self._client, collection_configuration=_CONFIGURATION)

    # -- writes ------------------------------------------------------------
    def upsert(self, chunks: Sequence[Chunk]) -> None:
        if not chunks:
            return
        self._store.add_texts(
            [c.text for c in chunks], metadatas=[dict(c.metadata) for c in chunks],
            ids=[c.id for c in chunks],
        )
        self._bump({scope_group(c.metadata.get("scope", "global")) for c in chunks})

    def delete(self, *, ids: Sequence[str] | None = None,
               where: MetadataFilter | None = None) -> None:
        if ids:
            self.collection.delete(ids=list(ids))
        clause = _where(where)
        if clause is not None:
            self.collection.delete(where=clause)
        scopes = dict(where.clauses).get("scope") if where is not None and not ids else None
        self._bump({scope_group(s) for s in scopes} if scopes else set(GROUPS))

    def _stamp_collection(self, group: str) -> str:
        # Each group's stamp sits in its own collection's metadata: modify() replaces the whole
        # metadata, so one shared dict would let concurrent writers undo each other's stamps.
        return self._name if group == "global" else f"{self._name}.{group}-generation"

    def _bump(self, groups: set[str]) -> None:
        with self._lock:
            stamp = f"{os.getpid()}-{time.time_ns()}"
            remote = dict(self._remote[1])
            for group in groups:
                self._local_generation[group] += 1
                remote[group] = stamp
                try:
                    name = self._stamp_collection(group)
                    target = self.collection if group == "global" else \
                        self._client.get_or_create_collection(name, embedding_function=None)
                    target.modify(metadata={_GENERATION_KEY: stamp})
                except Exception:  # pragma: no cover - older servers without modify
                    pass
            self._remote = (time.monotonic(), remote)

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

    def get(self, where: MetadataFilter | None = None, include_text: bool = True,
            include_vectors: bool = False) -> list[Chunk]:
        include = ["metadatas"] + (["documents"] if include_text else []) + \
            (["embeddings"] if include_vectors else [])
        chunks: list[Chunk] = []
        page, offset = 5000, 0
        while True:
            result = self.collection.get(where=_where(where), include=include, limit=page,
                                         offset=offset)
            n = len(result["ids"])
            docs = result.get("documents") or [""] * n
            vectors = result.get("embeddings")
            vectors = [None] * n if vectors is None else vectors
            for cid, doc, meta, vector in zip(result["ids"], docs, result["metadatas"], vectors,
                                              strict=True):
                chunks.append(Chunk(cid, doc or "", dict(meta or {}), vector))
            if len(result["ids"]) < page:
                break
            offset += page
        chunks.sort(key=lambda c: c.id)
        return chunks

    def count(self) -> int:
        return self.collection.count()

    def generation(self, group: str = "global") -> str:
        """Local writes show at once; other processes' writes within a couple of seconds."""
        now = time.monotonic()
        with self._lock:
            checked, stamps = self._remote
            if now - checked > _GENERATION_TTL_S:
                stamps = dict(stamps)
                for g in GROUPS:
                    try:
                        meta = self._client.get_collection(self._stamp_collection(g)).metadata
                        stamps[g] = str((meta or {}).get(_GENERATION_KEY, ""))
                    except Exception:  # not created yet: nothing written to that group
                        stamps[g] = ""
                self._remote = (now, stamps)
            return f"{self._local_generation[group]}:{stamps.get(group, '')}"
