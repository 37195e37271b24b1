"""The VectorIndex contract (coach.ports), run against every implementation: the in-memory
fake the fast tests use and Chroma, both over the same deterministic embedder, so a test that
passes on the fake says something about production.

In the style of haystack's document-store tests: one suite, parametrised by the store."""

from __future__ import annotations

import pytest

from coach.adapters.fakes import HashingEmbedder, InMemoryIndex
from coach.ports import Chunk, MetadataFilter, VectorIndex


def _chroma(tmp_path):
    from coach.adapters.chroma_index import ChromaIndex

    return ChromaIndex(HashingEmbedder(), str(tmp_path / "chroma"), "contract")


IMPLEMENTATIONS = {"in-memory": lambda tmp_path: InMemoryIndex(HashingEmbedder()),
                   "chroma": _chroma}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def index(request, tmp_path) -> VectorIndex:
    return IMPLEMENTATIONS[request.param](tmp_path)


def chunk(cid: str, text: str, **metadata) -> Chunk:
    meta = {"scope": "global", "kind": "guideline", "source": f"knowledge/{cid}.md"}
    return Chunk(cid, text, {**meta, **metadata})


CHUNKS = [
    chunk("a", "Agree ground rules and confidentiality in the first session.", focus="general"),
    chunk("b", "Two-factor authentication keeps work accounts safe.", focus="technology"),
    chunk("c", "Phishing emails imitate senders you trust.", focus="technology"),
    chunk("d", "Our pair agreed to meet every two weeks.", scope="pair:7", kind="pair_goals"),
]


def test_it_is_a_vector_index(index):
    assert isinstance(index, VectorIndex)


def test_upsert_then_get_count_and_replace_by_id(index):
    index.upsert(CHUNKS)
    assert index.count() == 4
    assert [c.id for c in index.get()] == ["a", "b", "c", "d"]  # sorted by id
    got = {c.id: c for c in index.get()}
    assert got["b"].text == CHUNKS[1].text
    assert got["b"].metadata["focus"] == "technology"
    index.upsert([chunk("b", "Passkeys replace passwords.", focus="technology")])
    assert index.count() == 4
    assert {c.id: c.text for c in index.get()}["b"] == "Passkeys replace passwords."


def test_upserting_nothing_changes_nothing(index):
    index.upsert(CHUNKS)
    before = index.generation("global"), index.generation("pairs")
    index.upsert([])
    assert index.count() == 4
    assert (index.generation("global"), index.generation("pairs")) == before


def test_get_filters_by_every_clause_and_by_any_value_of_one(index):
    index.upsert(CHUNKS)
    technology = MetadataFilter.of(focus=["technology"])
    assert [c.id for c in index.get(technology)] == ["b", "c"]
    either = MetadataFilter.of(focus=["technology", "general"])
    assert [c.id for c in index.get(either)] == ["a", "b", "c"]
    both = MetadataFilter.of(scope=["global"], focus=["general"])
    assert [c.id for c in index.get(both)] == ["a"]
    assert index.get(MetadataFilter.of(focus=["inclusion"])) == []


def test_get_without_text_and_with_vectors(index):
    index.upsert(CHUNKS)
    vectors = {c.id: c.vector for c in index.get(include_vectors=True)}
    assert all(v is not None and len(v) == 256 for v in vectors.values())
    assert all(c.vector is None for c in index.get())
    assert {c.id for c in index.get(include_text=False)} == {"a", "b", "c", "d"}


def test_search_ranks_the_nearest_first_within_the_filter(index):
    index.upsert(CHUNKS)
    hits = index.search("phishing emails imitate senders", 2)
    assert hits[0][0].id == "c"
    assert len(hits) == 2
    assert hits[0][1] <= hits[1][1]  # distances: smaller is nearer
    assert hits[0][0].metadata["source"] == "knowledge/c.md"
    scoped = index.search("phishing emails imitate senders", 5, MetadataFilter.of(scope=["pair:7"]))
    assert [c.id for c, _ in scoped] == ["d"]


def test_delete_by_ids_and_by_filter(index):
    index.upsert(CHUNKS)
    index.delete(ids=["a"])
    assert [c.id for c in index.get()] == ["b", "c", "d"]
    index.delete(where=MetadataFilter.of(focus=["technology"]))
    assert [c.id for c in index.get()] == ["d"]
    index.delete(ids=["not-there"])
    assert index.count() == 1


def test_generation_follows_writes_to_its_group_only(index):
    index.upsert(CHUNKS[:3])
    knowledge, pairs = index.generation("global"), index.generation("pairs")
    index.upsert([CHUNKS[3]])  # a pair's record
    assert index.generation("global") == knowledge
    assert index.generation("pairs") != pairs
    pairs = index.generation("pairs")
    index.delete(ids=["a"])
    assert index.generation("global") != knowledge
    knowledge = index.generation("global")
    index.delete(where=MetadataFilter.of(scope=["pair:7"]))
    assert index.generation("pairs") != pairs
    assert index.generation("global") == knowledge
