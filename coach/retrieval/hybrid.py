"""The one retriever every feature uses: BM25 and vector search, fused by relative score."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from coach.domain import FOCUS_VALUES
from coach.errors import InvalidInput
from coach.ports import Chunk, MetadataFilter, VectorIndex
from coach.retrieval.bm25 import BM25Index

KINDS = ("guideline", "topic", "document", "pair_goals", "pair_summary")
MAX_K = 50


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
    scopes = ["global"] + ([f"pair:{pair_id}"] if pair_id is not None else [])
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


class HybridRetriever:
    """Relative-score fusion: each side's scores are scaled to [0, 1] over its candidates and
    mixed with ``vector_weight`` (0.6, chosen on the retrieval dev set; RRF scored lower)."""

    def __init__(self, index: VectorIndex, *, vector_weight: float = 0.6, candidates: int = 30):
        self.index = index
        self.vector_weight = vector_weight
        self.candidates = candidates
        self._lock = threading.Lock()
        self._bm25: BM25Index | None = None
        self._bm25_chunks: list[Chunk] = []
        self._by_id: dict[str, Chunk] = {}
        self._bm25_generation: str | None = None

    def _keyword_index(self) -> tuple[BM25Index, list[Chunk]]:
        generation = self.index.generation()
        with self._lock:
            if self._bm25 is None or generation != self._bm25_generation:
                everything = self.index.get()
                questions: dict[str, list[str]] = {}
                for c in everything:
                    if c.metadata.get("role") == "question":
                        questions.setdefault(str(c.metadata.get("parent")), []).append(c.text)
                chunks = [c for c in everything if c.metadata.get("role") != "question"]
                self._bm25 = BM25Index(
                    [c.text + "\n" + "\n".join(questions.get(c.id, ())) for c in chunks])
                self._bm25_chunks = chunks
                self._by_id = {c.id: c for c in chunks}
                self._bm25_generation = generation
            return self._bm25, self._bm25_chunks

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        pair_id: int | None = None,
        focus: str | None = None,
        kinds: Sequence[str] | None = None,
    ) -> list[Hit]:
        query = (query or "").strip()
        if not query:
            raise InvalidInput("The search query is empty. Type a question or some keywords.")
        if len(query) > 2000:
            raise InvalidInput("The search query is over 2,000 characters. Shorten it.")
        if not 1 <= k <= MAX_K:
            raise InvalidInput(f"k must be between 1 and {MAX_K}.")
        where = scope_filter(pair_id, focus, kinds)
        n = max(self.candidates, 3 * k)

        bm25, chunks = self._keyword_index()
        # Question vectors stand in for their section: keep each section's best match.
        vector_ranked = []
        seen: set[str] = set()
        for chunk, distance in self.index.search(query, 2 * n, where):
            if chunk.metadata.get("role") == "question":
                chunk = self._by_id.get(str(chunk.metadata.get("parent")), chunk)
                if chunk.metadata.get("role") == "question":
                    continue  # parent not loaded yet (index changed mid-query)
            if chunk.id not in seen:
                seen.add(chunk.id)
                vector_ranked.append((chunk, distance))
        vector_ranked = vector_ranked[:n]
        keyword_ranked = bm25.top(query, n, lambda i: where.matches(chunks[i].metadata))

        fused: dict[str, float] = {}
        by_id: dict[str, Chunk] = {}
        similarity = {chunk.id: 1.0 - distance for chunk, distance in vector_ranked}
        if vector_ranked:
            sims = [1.0 - distance for _, distance in vector_ranked]
            low, span = min(sims), (max(sims) - min(sims)) or 1.0
            for (chunk, _), sim in zip(vector_ranked, sims, strict=True):
                fused[chunk.id] = self.vector_weight * (sim - low) / span
                by_id[chunk.id] = chunk
        if keyword_ranked:
            top_score = keyword_ranked[0][1] or 1.0
            for doc, score in keyword_ranked:
                chunk = chunks[doc]
                fused[chunk.id] = fused.get(chunk.id, 0.0) + (1 - self.vector_weight) * score / top_score
                by_id.setdefault(chunk.id, chunk)

        ranked = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
        return [
            Hit(
                text=body_of(by_id[cid]),
                source=str(by_id[cid].metadata.get("source", "")),
                heading=str(by_id[cid].metadata.get("heading", "")),
                score=score,
                chunk_id=cid,
                metadata=dict(by_id[cid].metadata),
                similarity=round(similarity.get(cid, 0.0), 4),
            )
            for cid, score in ranked
        ]
