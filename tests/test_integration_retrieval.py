"""Real all-MiniLM-L6-v2 embeddings and real embedded Chroma."""

import datetime as dt

import pytest

from coach.ports import MetadataFilter

pytestmark = pytest.mark.integration


def test_chroma_index_matches_the_manifest_and_reingest_adds_nothing(real_container):
    manifest = real_container.manifest.all()
    assert len(manifest) >= 70
    for source, entry in list(manifest.items())[:10]:
        assert len(real_container.index.get(MetadataFilter.of(source=[source]))) == entry.chunk_count
    again = real_container.ingestor.ingest([real_container.settings.knowledge_dir])
    assert again.chunks_added == 0 and again.chunks_removed == 0


def test_real_search_finds_the_coordinator_guidance(real_container):
    hits = real_container.retriever.search("a pair keeps cancelling, what should the coordinator do",
                                            5)
    assert any("coordinator" in h.source or "challenges" in h.source for h in hits)
    assert all(h.metadata["scope"] == "global" for h in hits)


def test_pair_isolation_through_chroma_filters(real_container):
    store, svc = real_container.store, real_container.writes
    a = store.add_person("Ivy", "ivy@int.example", "mentor", department="IT")
    b = store.add_person("Hal", "hal@int.example", "mentee", department="Ops")
    c = store.add_person("Una", "una@int.example", "mentor", department="HR")
    d = store.add_person("Rex", "rex@int.example", "mentee", department="Sales")
    one = svc.add_pair(a.id, b.id, ["technology"], goals=["Secure the family office accounts"]).pair
    two = svc.add_pair(c.id, d.id, ["technology"], goals=["Secure the sales team laptops"]).pair
    hits = real_container.retriever.search("secure accounts laptops", 10, pair_id=one.id)
    scopes = {h.metadata["scope"] for h in hits}
    assert f"pair:{one.id}" in scopes and f"pair:{two.id}" not in scopes
    svc.delete_pair(two.id)
    assert real_container.index.get(MetadataFilter.of(scope=[f"pair:{two.id}"])) == []
    session = store.log_session(one.id, dt.date.today(), "held")
    assert session.id


def test_chroma_generations_are_per_group(real_container):
    """A pair's records and the shared knowledge stamp separate generations in Chroma, so a
    summary written by one worker leaves every worker's knowledge snapshot in place."""
    from coach.adapters.chroma_index import ChromaIndex
    from coach.ports import Chunk

    index = real_container.index
    other = ChromaIndex(real_container.embedder, real_container.settings.resolved_vector_store,
                        real_container.settings.collection)  # another process's view
    knowledge, pairs = other.generation("global"), other.generation("pairs")
    chunk = Chunk("pair:999-gen-test", "Pair 999 goal: test the generation stamps.",
                  {"scope": "pair:999", "kind": "pair_goals", "source": "pair-999", "pair_id": 999})
    index.upsert([chunk])
    other._remote = (0.0, other._remote[1])  # skip the 2 s polling interval
    assert other.generation("global") == knowledge and other.generation("pairs") != pairs
    index.delete(where=MetadataFilter.of(scope=["pair:999"]))
    assert index.get(MetadataFilter.of(scope=["pair:999"])) == []


def test_the_embedding_model_loads_on_first_use_once_per_process(real_container, tmp_path):
    """A command that only reads the store never loads MiniLM; the index and the retriever
    share one copy of it, and the reader loads its own fine-tuned one, also once."""
    from coach.adapters import embeddings
    from coach.reader.language import ENCODER, default_embed

    real_container.retriever.search("warm up", 1)
    path = embeddings.packaged_model_path().resolve()
    key = (path, embeddings.resolve_precision("auto"))
    loaded = embeddings._loaded[key]
    assert embeddings.make_embedder(None).model is loaded
    assert real_container.embedder.model is loaded
    default_embed()(["one sentence"])
    reader_key = (ENCODER.resolve(), key[1])
    reader_model = embeddings._loaded[reader_key]
    default_embed()(["another sentence"])
    assert embeddings._loaded[key] is loaded and embeddings._loaded[reader_key] is reader_model
    assert sorted(k for k in embeddings._loaded if k[1] == key[1]) == sorted([key, reader_key])
    # the same folder by another name is the same model
    link = tmp_path / "minilm"
    link.symlink_to(path, target_is_directory=True)
    assert embeddings.make_embedder(link).model is loaded
    # nothing is read from a folder until a text is embedded
    empty = tmp_path / "empty"
    empty.mkdir()
    embeddings.make_embedder(empty)
    assert all(empty.resolve() != p for p, _ in embeddings._loaded)


def test_the_precision_setting_picks_the_model_and_both_precisions_agree(tmp_path):
    """COACH_EMBEDDING_PRECISION=float32 gives the float32 MiniLM that training uses; "auto"
    gives bfloat16 only on a CPU that multiplies it natively. Their vectors agree."""
    import numpy as np

    from coach.adapters import embeddings
    from coach.container import Container
    from coach.settings import Settings

    pinned = Container(Settings(data_dir=tmp_path, embedding_precision="float32")).embedder
    auto = embeddings.make_embedder(None)
    assert pinned.dtype == "float32"
    assert auto.dtype == ("bfloat16" if embeddings.native_bfloat16() else "float32")
    text = ["Honestly my laptop kept freezing so we lost about ten minutes."]
    a, b = (np.asarray(e.embed_documents(text))[0] for e in (pinned, auto))
    assert float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)) > 0.995


@pytest.mark.parametrize("precision", ["float32", "auto"])
def test_packed_vectors_are_the_models_own(precision):
    """Short texts share rows (coach.adapters.embeddings.PACK_TOKENS); each must still get the
    vector sentence-transformers gives it alone: texts that span several rows and batches, one
    longer than a row, one past the model's 256 word pieces, and an empty one."""
    import numpy as np

    from coach.adapters import embeddings

    embedder = embeddings.make_embedder(None, precision)
    model = embedder.sentence_transformer
    assert embeddings._packs_exactly(model)
    texts = [f"Item {i}: we {'talked through the forecast ' * (i % 5)}and agreed a next step."
             for i in range(40)]
    texts += ["a long section about prompting " * 12, "word " * 400, ""]
    packed = embedder.encode(texts)
    plain = model.encode(texts, batch_size=1, normalize_embeddings=True, convert_to_numpy=True)
    floor = 0.9999 if embedder.dtype == "float32" else 0.99  # bfloat16 pools in bfloat16 alone
    assert packed.shape == plain.shape
    assert float((packed * plain.astype(np.float32)).sum(1).min()) > floor
    assert np.allclose(np.linalg.norm(packed, axis=1), 1, atol=1e-5)


def test_a_model_that_does_not_pack_exactly_gets_plain_batches(monkeypatch):
    """If packing ever disagrees with the model's own encode (another model, a library that
    ignores the per-token mask), the embedder notices once and uses plain batches."""
    import numpy as np

    from coach.adapters import embeddings

    embedder = embeddings.make_embedder(None, "float32")
    model = embedder.sentence_transformer
    monkeypatch.setattr(embeddings, "encode_packed",
                        lambda m, texts, n: np.roll(m.encode(texts), 1, axis=0))
    monkeypatch.setattr(model, "_coach_packs", None, raising=False)
    texts = ["The webcam froze twice.", "We agreed to meet on Friday.", "It went well."]
    assert not embeddings._packs_exactly(model)
    assert np.allclose(embedder.encode(texts), model.encode(texts, normalize_embeddings=True),
                       atol=1e-5)


def test_packing_fills_rows_first_fit_and_keeps_every_text_once():
    from coach.adapters.embeddings import _pack

    lengths = [100, 5, 30, 200, 90, 40, 7, 128]
    rows = _pack(lengths, 128)
    assert sorted(i for row in rows for i in row) == list(range(len(lengths)))
    assert [3] in rows and [7] in rows  # as long as a row or longer: alone
    assert all(sum(lengths[i] for i in row) <= 128 for row in rows if len(row) > 1)
    assert len(rows) == 5  # 200 | 128 | 100+5+7 | 90+30 | 40


def test_indexed_documents_are_embedded_once_per_process_and_queries_always(tmp_path):
    """Two stores indexing the same chunk pay one forward pass between them; a query is
    embedded every time, so search timings are not flattered."""
    from coach.adapters.chroma_index import ChromaIndex
    from coach.adapters.fakes import HashingEmbedder
    from coach.ports import Chunk

    class Counting(HashingEmbedder):
        path = f"counting-{tmp_path}"  # a model of its own, so no earlier test's vectors count

        def __init__(self):
            super().__init__()
            self.documents, self.queries = [], 0

        def embed_documents(self, texts):
            self.documents += texts
            return super().embed_documents(texts)

        def embed_query(self, text):
            self.queries += 1
            return super().embed_query(text)

    embedder = Counting()
    chunk = Chunk("g1", "Agree ground rules about confidentiality.", {"scope": "global"})
    first = ChromaIndex(embedder, str(tmp_path / "a"))
    second = ChromaIndex(embedder, str(tmp_path / "b"))
    first.upsert([chunk])
    second.upsert([chunk, Chunk("g2", "Book the room early.", {"scope": "global"})])
    assert embedder.documents == [chunk.text, "Book the room early."]
    stored = second.get(include_vectors=True)
    assert {c.id for c in stored} == {"g1", "g2"}
    for _ in range(2):
        assert second.search("ground rules", 1)[0][0].id == "g1"
    assert embedder.queries == 2
