"""Fusing the two rankings into one: relative-score fusion of the vector and keyword sides,
then one hit per section of a document.

Each side's scores are put on a 0-1 scale of their own (the vector side min-max, the keyword
side against its best score) and added with weights, so neither side's units dominate; a chunk
found by both sides adds both shares.
"""

from __future__ import annotations

from collections.abc import Sequence

from coach.ports import Chunk


def section_key(chunk: Chunk) -> tuple[str, str]:
    return str(chunk.metadata.get("source", "")), str(chunk.metadata.get("heading", ""))


def fuse(vector_ranked: Sequence[tuple[Chunk, float]], keyword_ranked: Sequence[tuple[Chunk, float]],
         vector_weight: float) -> tuple[dict[str, float], dict[str, Chunk]]:
    """Each chunk's fused score, by id, and the chunks by id. ``vector_ranked`` holds cosine
    distances, nearest first; ``keyword_ranked`` BM25 scores, best first."""
    fused: dict[str, float] = {}
    by_id: dict[str, Chunk] = {}
    if vector_ranked:
        sims = [1.0 - distance for _, distance in vector_ranked]
        low, span = min(sims), (max(sims) - min(sims)) or 1.0
        for (chunk, _), sim in zip(vector_ranked, sims, strict=True):
            fused[chunk.id] = vector_weight * (sim - low) / span
            by_id[chunk.id] = chunk
    if keyword_ranked:
        top_score = keyword_ranked[0][1] or 1.0
        for chunk, score in keyword_ranked:
            fused[chunk.id] = fused.get(chunk.id, 0.0) + (1 - vector_weight) * score / top_score
            by_id.setdefault(chunk.id, chunk)
    return fused, by_id


def best_per_section(fused: dict[str, float], by_id: dict[str, Chunk], k: int
                     ) -> list[tuple[str, float]]:
    """The ``k`` best chunk ids with their scores, one per section: a long section's pieces
    compete for one place (small pieces find, the section answers). Ties go by id."""
    ranked, seen = [], set()
    for cid, score in sorted(fused.items(), key=lambda item: (-item[1], item[0])):
        section = section_key(by_id[cid])
        if section in seen:
            continue
        seen.add(section)
        ranked.append((cid, score))
        if len(ranked) == k:
            break
    return ranked
