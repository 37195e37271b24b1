"""The topic catalogue, read from the topic documents in the index (kind = topic)."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from coach.ports import MetadataFilter, VectorIndex
from coach.retrieval.hybrid import body_of


@dataclass(frozen=True)
class Topic:
    id: str
    title: str
    focus: str
    level: str
    description: str
    starters: tuple[str, ...]
    activity: str
    related: tuple[str, ...]
    source: str
    # other ways people name the topic in their notes ("WFH chat"), from the front matter
    aliases: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return f"{self.title}. {self.description} {' '.join(self.starters)} {self.activity}"


def _section(body: str, name: str) -> str:
    match = re.search(rf"(?ims)^{re.escape(name)}:\s*\n(.*?)(?=^\w[\w ]+:\s*$|\Z)", body)
    return match.group(1).strip() if match else ""


def parse_topic(chunk) -> Topic:
    meta, body = chunk.metadata, body_of(chunk)
    starters = tuple(
        re.sub(r"^\s*[-*]\s+", "", line).strip()
        for line in _section(body, "Conversation starters").splitlines() if line.strip()
    )
    description = _section(body, "Description") or body.split("\n\n")[0]
    return Topic(
        id=str(meta["topic_id"]), title=str(meta.get("title", meta["topic_id"])),
        focus=str(meta.get("focus", "general")), level=str(meta.get("level", "intro")),
        description=re.sub(r"\s+", " ", description), starters=starters,
        activity=re.sub(r"\s+", " ", _section(body, "Activity")),
        related=tuple(r for r in str(meta.get("related", "")).split(",") if r),
        source=str(meta.get("source", "")),
        aliases=tuple(a.strip() for a in str(meta.get("aliases", "")).split(",") if a.strip()),
    )


class TopicCatalogue:
    """Cached view of the topic documents; refreshed when the index changes."""

    def __init__(self, index: VectorIndex):
        self.index = index
        self._lock = threading.Lock()
        self._generation: str | None = None
        self._topics: dict[str, Topic] = {}

    def all(self) -> dict[str, Topic]:
        generation = self.index.generation()
        with self._lock:
            if generation != self._generation:
                chunks = self.index.get(MetadataFilter.of(kind=["topic"], scope=["global"]))
                topics = [parse_topic(c) for c in chunks if c.metadata.get("topic_id")]
                self._topics = {t.id: t for t in sorted(topics, key=lambda t: t.id)}
                self._generation = generation
            return self._topics

    def get(self, topic_id: str) -> Topic | None:
        return self.all().get(topic_id)

    def by_title(self) -> dict[str, Topic]:
        return {t.title.casefold(): t for t in self.all().values()}
