"""One protocol per role. Adapters in coach.adapters implement them; fakes in coach.adapters.fakes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from coach.domain.sources import is_pair_scope


@dataclass(frozen=True)
class Chunk:
    """A piece of indexed text and its metadata (source, heading, kind, focus, scope, ...)."""

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    vector: Any = field(default=None, compare=False, repr=False)  # only from get(include_vectors=True)


def scope_group(scope: object) -> str:
    """Which generation a chunk's scope belongs to: the shared knowledge or the pairs' records."""
    return "pairs" if is_pair_scope(scope) else "global"


@dataclass(frozen=True)
class MetadataFilter:
    """Conjunction of ``key in values`` clauses; empty means everything."""

    clauses: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, **clauses: Sequence[str] | None) -> MetadataFilter:
        return cls(tuple((k, tuple(v)) for k, v in clauses.items() if v))

    def matches(self, metadata: dict[str, Any]) -> bool:
        return all(str(metadata.get(key, "")) in values for key, values in self.clauses)


@runtime_checkable
class Embedder(Protocol):
    """Text to vectors (the LangChain ``Embeddings`` interface)."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


@runtime_checkable
class VectorIndex(Protocol):
    """A persistent store of chunks with vector search and metadata filters."""

    def upsert(self, chunks: Sequence[Chunk]) -> None: ...

    def delete(self, *, ids: Sequence[str] | None = None,
               where: MetadataFilter | None = None) -> None: ...

    def search(self, query: str, k: int,
               where: MetadataFilter | None = None) -> list[tuple[Chunk, float]]: ...

    def get(self, where: MetadataFilter | None = None, include_text: bool = True,
            include_vectors: bool = False) -> list[Chunk]: ...

    def count(self) -> int: ...

    def generation(self, group: str = "global") -> str:
        """Changes whenever chunks of that group ("global" knowledge, or "pairs" records) change,
        so caches built on top invalidate; pair writes leave the knowledge caches alone."""
        ...


@dataclass
class ChatResult:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class ModelCapabilities:
    """What a chat model can be trusted with. Features decide by this, never by its name."""

    phrases: bool
    """Its own sentences are worth checking and showing ("phrase"). A model that cannot (the
    embedded SmolLM2-135M) only chooses among the coach's own sentences and topics ("choose")."""


@runtime_checkable
class ChatModel(Protocol):
    """A chat model that can be held to a JSON schema and can stream."""

    name: str
    capabilities: ModelCapabilities

    def load(self) -> None:
        """Be ready to answer: load local weights now rather than on the first request."""
        ...

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        json_schema: dict[str, Any] | None = None,
        max_tokens: int | None = None,
    ) -> ChatResult: ...

    def stream(
        self, messages: list[dict[str, str]], *, max_tokens: int | None = None
    ) -> Iterator[str]: ...
