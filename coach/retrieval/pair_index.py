"""Each pair's goals and shared reflection summaries, indexed under that pair's scope only."""

from __future__ import annotations

import hashlib

from coach.domain.records import PairRecord
from coach.domain.sources import goals_source, pair_scope, reflection_source
from coach.ports import Chunk, MetadataFilter, VectorIndex


def pair_chunks(pair: PairRecord) -> list[Chunk]:
    """Goals, and the summaries their authors shared with the pair and confirmed. Raw
    reflection text, and anything private or unconfirmed, is never indexed."""
    scope = pair_scope(pair.id)
    chunks: list[tuple[str, str, str, str]] = []  # (kind, source, heading, text)
    if pair.goals:
        lines = [f"- {g.text} (status: {g.status.replace('_', ' ')})" for g in pair.goals]
        chunks.append((
            "pair_goals",
            goals_source(pair.id),
            f"Pair {pair.id} > Goals",
            f"Goals agreed by {pair.mentor.name} (mentor) and {pair.mentee.name} (mentee), "
            f"focus: {', '.join(pair.focus)}.\n" + "\n".join(lines),
        ))
    for session in pair.sessions:
        for reflection in session.reflections:
            summary = reflection.summary or {}
            if not reflection.shared_with_pair or not summary.get("summary"):
                continue
            parts = [str(summary["summary"])]
            parts += [f"- {p}" for p in summary.get("key_points", [])]
            parts += [f"- Blocker: {b}" for b in summary.get("blockers", [])]
            chunks.append((
                "pair_summary",
                reflection_source(pair.id, reflection.id),
                f"Pair {pair.id} > Session {session.date.isoformat()} > "
                f"{reflection.author_role} reflection summary",
                "\n".join(parts),
            ))
    out = []
    for kind, source, heading, text in chunks:
        prefix = f"{heading}\n"
        digest = hashlib.sha256((prefix + text).encode()).hexdigest()[:16]
        out.append(Chunk(
            f"{scope}-{hashlib.sha1(source.encode()).hexdigest()[:10]}-{digest}",
            prefix + text,
            {"source": source, "heading": heading, "kind": kind, "focus": "general",
             "scope": scope, "pair_id": pair.id, "title": f"Pair {pair.id}",
             "body_start": len(prefix), "content_hash": digest, "chunk_index": 0},
        ))
    return out


class PairIndexer:
    """Keeps a pair's chunks in step with its records."""

    def __init__(self, index: VectorIndex):
        self.index = index

    def sync(self, pair: PairRecord) -> None:
        wanted = {c.id: c for c in pair_chunks(pair)}
        existing = {c.id for c in self.index.get(MetadataFilter.of(scope=[pair_scope(pair.id)]),
                                                   include_text=False)}
        stale = existing - wanted.keys()
        if stale:
            self.index.delete(ids=sorted(stale))
        new = [c for cid, c in wanted.items() if cid not in existing]
        if new:
            self.index.upsert(new)

    def remove(self, pair_id: int) -> None:
        self.index.delete(where=MetadataFilter.of(scope=[pair_scope(pair_id)]))
