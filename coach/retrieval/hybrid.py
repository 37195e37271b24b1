"""The one retriever every feature uses: BM25 and vector search, fused by relative score."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coach.domain.errors import InvalidInput
from coach.domain.sources import pair_scope
from coach.domain.vocabulary import FOCUS_VALUES
from coach.ports import Chunk, Embedder, MetadataFilter, VectorIndex
from coach.retrieval.bm25 import BM25Index
from coach.retrieval.fusion import best_per_section, fuse, section_key

KINDS = ("guideline", "topic", "document", "pair_goals", "pair_summary")
MAX_K = 50
MAX_QUERY_CHARS = 2000
RESULTS_CACHED = 2048  # knowledge-only results kept per process, oldest dropped first


@dataclass(frozen=True)
class Hit:
    text: str
    source: str
    heading: str
    score: float
    chunk_id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    similarity: float = 0.0  # raw cosine similarity from the vector side (0 if keyword-only)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "source": self.source, "heading": self.heading,
                "score": round(self.score, 4)}

    @property
    def kind(self) -> str:
        return str(self.metadata.get("kind", ""))


def check_query(query: str | None, k: int) -> str:
    """The query, stripped, once it is one a search can answer."""
    query = (query or "").strip()
    if not query:
        raise InvalidInput("The search query is empty. Type a question or some keywords.")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(f"The search query is over {MAX_QUERY_CHARS:,} characters. Shorten it.")
    if not 1 <= k <= MAX_K:
        raise InvalidInput(f"k must be between 1 and {MAX_K}.")
    return query


SECTION_CHARS = 3000  # a hit shows at most this much of its section, around its best piece


def join_pieces(bodies: list[str]) -> str:
    """Consecutive pieces of one section, without the overlap the splitter repeated."""
    text = bodies[0] if bodies else ""
    for body in bodies[1:]:
        overlap = next((n for n in range(min(len(text), len(body), 400), 19, -1)
                        if text.endswith(body[:n])), 0)
        text += ("" if overlap else "\n") + body[overlap:]
    return text


def body_of(chunk: Chunk) -> str:
    """The chunk's text without the heading line that was prepended for embedding."""
    start = int(chunk.metadata.get("body_start", 0) or 0)
    return chunk.text[start:]


def scope_filter(
    pair_id: int | None = None,
    focus: str | None = None,
    kinds: Sequence[str] | None = None,
) -> MetadataFilter:
    """Global documents, plus one pair's own records when ``pair_id`` is given."""
    scopes = ["global"] + ([pair_scope(pair_id)] if pair_id is not None else [])
    focus_values = None
    if focus:
        if focus not in FOCUS_VALUES:
            raise InvalidInput(f"Unknown focus {focus!r}. Use one of: {', '.join(FOCUS_VALUES)}.")
        focus_values = [focus, "general"]
    if kinds:
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise InvalidInput(f"Unknown kind {unknown[0]!r}. Use one of: {', '.join(KINDS)}.")
    return MetadataFilter.of(scope=scopes, focus=focus_values, kind=list(kinds or []))


class _Snapshot:
    """The shared knowledge held in memory: chunks, their BM25 index, and one vector matrix in
    which each section's question vectors point back to the section (multi-vector retrieval)."""

    def __init__(self, everything: list[Chunk], generation: str | None = None,
                 exact: bool = True):
        self.generation = generation
        self.exact = exact  # vectors held: the vector side scans them instead of the index
        questions: dict[str, list[str]] = {}
        for c in everything:
            if c.metadata.get("role") == "question":
                questions.setdefault(str(c.metadata.get("parent")), []).append(c.text)
        self.chunks = [c for c in everything if c.metadata.get("role") != "question"]
        self.position = {c.id: i for i, c in enumerate(self.chunks)}
        rows, owners = [], []
        for c in everything:
            is_question = c.metadata.get("role") == "question"
            owner = self.position.get(str(c.metadata.get("parent")) if is_question else c.id)
            if owner is not None and c.vector is not None:
                rows.append(c.vector)
                owners.append(owner)
        self.vectors = np.asarray(rows, dtype=np.float32) if rows else np.zeros((0, 1), np.float32)
        self.owner = np.asarray(owners, dtype=np.int64)
        self._columns: dict[str, np.ndarray] = {}
        self.sections: dict[tuple[str, str], list[int]] = {}
        for i, c in enumerate(self.chunks):
            self.sections.setdefault(section_key(c), []).append(i)
        for members in self.sections.values():
            members.sort(key=lambda i: int(self.chunks[i].metadata.get("chunk_index", 0) or 0))
        self.bm25 = BM25Index(
            [c.text + "\n" + "\n".join(questions.get(c.id, ())) for c in self.chunks])

    def section_text(self, chunk: Chunk) -> str:
        """The chunk's whole section (it was split for embedding), or the chunk alone."""
        members = self.sections.get(section_key(chunk), [])
        if len(members) <= 1 or chunk.id not in self.position:
            return body_of(chunk)
        at = members.index(self.position[chunk.id])
        low = high = at
        text = body_of(chunk)
        while True:  # grow around the best piece while the section fits
            grown = False
            for i in (low - 1, high + 1):
                if 0 <= i < len(members):
                    lo, hi = min(low, i), max(high, i)
                    candidate = join_pieces([body_of(self.chunks[m]) for m in members[lo:hi + 1]])
                    if len(candidate) <= SECTION_CHARS:
                        low, high, text, grown = lo, hi, candidate, True
            if not grown:
                return text

    def mask(self, where: MetadataFilter) -> np.ndarray:
        """Which chunks pass the filter, as a boolean array (columns built once per key)."""
        allowed = np.ones(len(self.chunks), dtype=bool)
        for key, values in where.clauses:
            column = self._columns.get(key)
            if column is None:
                column = np.asarray([str(c.metadata.get(key, "")) for c in self.chunks], dtype=object)
                self._columns[key] = column
            allowed &= np.isin(column, list(values))
        return allowed


class HybridRetriever:
    """Relative-score fusion: each side's scores are scaled to [0, 1] over its candidates and
    mixed with ``vector_weight`` (0.6, chosen on the retrieval dev set; RRF scored lower).

    The shared knowledge is searched in memory: exact cosine over a snapshot of the index's
    vectors, refreshed when the knowledge changes. Chroma's own filtered queries cost 10 ms at
    10k chunks and 60-100 ms at 100k (`coach bench`); an exact scan of the snapshot costs less
    and never misses. A pair's own records are fetched per pair and cached until pair records
    change. Past ``exact_limit`` vectors the snapshot would cost too much memory per worker, so
    vector search goes to the index (Chroma's HNSW) instead.

    When the knowledge changes, one thread builds the new snapshot (2.6 s at 10k chunks, 34 s
    at 100k) while the others keep answering from the previous one; the new one is swapped in
    whole. Only the very first build makes searches wait.
    """

    def __init__(self, index: VectorIndex, embedder: Embedder | None = None, *,
                 vector_weight: float = 0.6, candidates: int = 30, exact_limit: int = 250_000):
        self.index = index
        self.embedder = embedder
        self.vector_weight = vector_weight
        self.candidates = candidates
        self.exact_limit = exact_limit
        self._lock = threading.Lock()  # guards the caches and the snapshot reference
        self._build_lock = threading.Lock()  # one snapshot build at a time
        self._snapshot: _Snapshot | None = None
        self._pairs: OrderedDict[int, tuple[str, list[Chunk]]] = OrderedDict()
        # Features repeat the same queries (an agenda's guide and prep queries, a pair's goals):
        # their vectors, and whole results of knowledge-only queries, are kept per generation.
        self._query_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._results: OrderedDict[tuple, list[Hit]] = OrderedDict()

    def _embed_query(self, query: str) -> np.ndarray:
        with self._lock:
            vector = self._query_vectors.get(query)
            if vector is not None:
                self._query_vectors.move_to_end(query)
                return vector
        vector = np.asarray(self.embedder.embed_query(query), dtype=np.float32)
        with self._lock:
            self._query_vectors[query] = vector
            while len(self._query_vectors) > 4096:
                self._query_vectors.popitem(last=False)
        return vector

    def _knowledge(self) -> _Snapshot:
        generation = self.index.generation("global")
        current = self._snapshot
        if current is not None and current.generation == generation:
            return current
        # Someone else is building: answer from the previous snapshot meanwhile.
        if not self._build_lock.acquire(blocking=current is None):
            return current
        try:
            current = self._snapshot
            if current is not None and current.generation == generation:
                return current  # built while this thread waited for the first one
            exact = self.embedder is not None and self.index.count() <= self.exact_limit
            everything = self.index.get(MetadataFilter.of(scope=["global"]),
                                        include_vectors=exact)
            fresh = _Snapshot(everything, generation, exact)
            with self._lock:
                self._snapshot = fresh
                self._results.clear()
            return fresh
        finally:
            self._build_lock.release()

    def _pair_records(self, pair_id: int) -> list[Chunk]:
        """One pair's goals and summaries (with vectors), cached until pair records change."""
        generation = self.index.generation("pairs")
        with self._lock:
            cached = self._pairs.get(pair_id)
            if cached is not None and cached[0] == generation:
                self._pairs.move_to_end(pair_id)
                return cached[1]
        chunks = self.index.get(MetadataFilter.of(scope=[pair_scope(pair_id)]), include_vectors=True)
        with self._lock:
            self._pairs[pair_id] = (generation, chunks)
            while len(self._pairs) > 512:
                self._pairs.popitem(last=False)
        return chunks

    def _vector_side(self, query: str, n: int, where: MetadataFilter, snapshot: _Snapshot,
                     pair_chunks: list[Chunk]) -> list[tuple[Chunk, float]]:
        if not snapshot.exact or any(c.vector is None for c in pair_chunks):
            return self._index_vector_side(query, n, where, snapshot)
        q = self._embed_query(query)
        ranked: list[tuple[Chunk, float]] = []
        if len(snapshot.vectors):
            sims = snapshot.vectors @ q
            sims[~snapshot.mask(where)[snapshot.owner]] = -np.inf
            take = min(len(sims), 4 * n)
            top = np.argpartition(-sims, take - 1)[:take] if take < len(sims) else np.arange(len(sims))
            best: dict[int, float] = {}  # a section's best row: its own or one of its questions
            for row in top[np.argsort(-sims[top], kind="stable")]:
                if not np.isfinite(sims[row]):
                    break
                best.setdefault(int(snapshot.owner[row]), float(sims[row]))
            ranked = [(snapshot.chunks[i], 1.0 - sim) for i, sim in best.items()]
        if pair_chunks:
            sims = np.asarray([c.vector for c in pair_chunks], dtype=np.float32) @ q
            ranked += [(c, 1.0 - float(sim)) for c, sim in zip(pair_chunks, sims, strict=True)]
        ranked.sort(key=lambda item: (item[1], item[0].id))
        return ranked[:n]

    def _index_vector_side(self, query: str, n: int, where: MetadataFilter,
                           snapshot: _Snapshot) -> list[tuple[Chunk, float]]:
        ranked, seen = [], set()
        for chunk, distance in self.index.search(query, 2 * n, where):
            if chunk.metadata.get("role") == "question":
                parent = snapshot.position.get(str(chunk.metadata.get("parent")))
                if parent is None:
                    continue  # parent not loaded yet (index changed mid-query)
                chunk = snapshot.chunks[parent]
            if chunk.id not in seen:
                seen.add(chunk.id)
                ranked.append((chunk, distance))
        return ranked[:n]

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        pair_id: int | None = None,
        focus: str | None = None,
        kinds: Sequence[str] | None = None,
    ) -> list[Hit]:
        query = check_query(query, k)
        where = scope_filter(pair_id, focus, kinds)
        n = max(self.candidates, 3 * k)
        snapshot = self._knowledge()
        key = (query, k, focus, tuple(kinds or ()), snapshot.generation)
        if pair_id is None:  # knowledge-only results are cached per snapshot
            with self._lock:
                cached = self._results.get(key)
            if cached is not None:
                return list(cached)
        pair_chunks = [c for c in (self._pair_records(pair_id) if pair_id is not None else [])
                       if where.matches(c.metadata) and c.metadata.get("role") != "question"]
        vector_ranked = self._vector_side(query, n, where, snapshot, pair_chunks)
        keyword_ranked = self._keyword_side(query, n, where, snapshot, pair_chunks)
        fused, by_id = fuse(vector_ranked, keyword_ranked, self.vector_weight)
        similarity = {chunk.id: 1.0 - distance for chunk, distance in vector_ranked}
        hits = [Hit(text=snapshot.section_text(by_id[cid]),  # the section around its best piece
                    source=str(by_id[cid].metadata.get("source", "")),
                    heading=str(by_id[cid].metadata.get("heading", "")), score=score,
                    chunk_id=cid, metadata=dict(by_id[cid].metadata),
                    similarity=round(similarity.get(cid, 0.0), 4))
                for cid, score in best_per_section(fused, by_id, k)]
        if pair_id is None:
            with self._lock:
                self._results[key] = hits
                while len(self._results) > RESULTS_CACHED:
                    self._results.popitem(last=False)
        return list(hits)

    def _keyword_side(self, query: str, n: int, where: MetadataFilter, snapshot: _Snapshot,
                      pair_chunks: list[Chunk]) -> list[tuple[Chunk, float]]:
        """BM25 over the knowledge allowed by ``where``, and over the pair's own records with
        the knowledge's statistics; best first."""
        allowed = snapshot.mask(where)
        ranked = [(snapshot.chunks[doc], score) for doc, score in
                  snapshot.bm25.top(query, n, lambda i: bool(allowed[i]))]
        if pair_chunks:
            scores = snapshot.bm25.score_texts(query, [c.text for c in pair_chunks])
            ranked += [(c, score) for c, score in zip(pair_chunks, scores, strict=True) if score > 0]
            ranked.sort(key=lambda item: -item[1])
            ranked = ranked[:n]
        return ranked
