import pytest

from coach.domain.errors import InvalidInput
from coach.ports import Chunk, MetadataFilter
from coach.retrieval.bm25 import BM25Index
from coach.retrieval.hybrid import HybridRetriever
from coach.text.tokens import tokenize


def test_tokenize_stems_and_drops_stopwords():
    assert tokenize("The mentors are meeting about phishing emails") == [
        "mentor", "meet", "phish", "email"]


def test_bm25_prefers_rare_terms_and_respects_the_filter():
    index = BM25Index(["phishing phishing email", "email etiquette", "quarterly budget email"])
    assert [d for d, _ in index.top("phishing email", 3)][0] == 0
    assert {d for d, _ in index.top("phishing email", 3, allowed=lambda d: d != 0)} == {1, 2}
    assert index.top("blockchain", 3) == []


def _chunk(cid, text, **meta):
    base = {"source": f"{cid}.md", "heading": cid, "kind": "guideline", "focus": "general",
            "scope": "global", "body_start": 0}
    base.update(meta)
    return Chunk(cid, text, base)


@pytest.fixture
def retriever(fake_container):
    fake_container.index.upsert([
        _chunk("conf", "Confidentiality: what is said in a session stays between the pair."),
        _chunk("tech", "Phishing emails target senior leaders; check the sender.", focus="technology"),
        _chunk("gen", "Unplanned phone calls feel like interruptions to many younger staff.",
               focus="generational"),
        _chunk("topic", "Spotting phishing: a topic with starters.", kind="topic", focus="technology",
               topic_id="tech-phishing"),
        _chunk("p1", "Pair 1 goal: learn phishing defences for the board.", kind="pair_goals",
               scope="pair:1", pair_id=1),
        _chunk("p2", "Pair 2 goal: phishing awareness for the finance team.", kind="pair_goals",
               scope="pair:2", pair_id=2),
    ])
    return fake_container.retriever


def test_hits_carry_text_source_heading_and_score(retriever):
    hit = retriever.search("phishing sender", 1)[0]
    assert hit.source.endswith(".md") and hit.heading and 0 < hit.score <= 1
    assert "phishing" in hit.text.lower()


def test_pair_records_only_come_back_for_their_own_pair(retriever):
    ids = lambda hits: {h.chunk_id for h in hits}  # noqa: E731
    assert not ids(retriever.search("phishing goal", 10)) & {"p1", "p2"}
    assert "p1" in ids(retriever.search("phishing goal", 10, pair_id=1))
    assert "p2" not in ids(retriever.search("phishing goal finance team", 10, pair_id=1))
    assert "p1" not in ids(retriever.search("phishing board", 10, pair_id=2))


def test_focus_filter_keeps_the_focus_and_general_guidance(retriever):
    hits = retriever.search("phone calls phishing session", 10, focus="generational")
    assert {h.metadata["focus"] for h in hits} <= {"generational", "general"}
    assert {h.chunk_id for h in hits} >= {"gen"}


def test_kind_filter(retriever):
    hits = retriever.search("phishing", 10, kinds=["topic"])
    assert [h.chunk_id for h in hits] == ["topic"]


def test_bad_queries_get_clear_errors(retriever):
    with pytest.raises(InvalidInput, match="empty"):
        retriever.search("   ", 5)
    with pytest.raises(InvalidInput, match="between 1 and 50"):
        retriever.search("phishing", 10_000)
    with pytest.raises(InvalidInput, match="Unknown focus"):
        retriever.search("phishing", 5, focus="cooking")
    with pytest.raises(InvalidInput, match="Unknown kind"):
        retriever.search("phishing", 5, kinds=["secret"])


def test_keyword_index_follows_index_changes(retriever, fake_container):
    assert all(h.chunk_id != "chain" for h in retriever.search("blockchain ledger", 5))
    fake_container.index.upsert([_chunk("chain", "Blockchain is a shared ledger.")])
    assert retriever.search("blockchain ledger", 1)[0].chunk_id == "chain"
    fake_container.index.delete(where=MetadataFilter.of(source=["chain.md"]))
    assert all(h.chunk_id != "chain" for h in retriever.search("blockchain ledger", 5))


def test_pair_goals_are_indexed_and_follow_changes(fake_container, programme):
    _, p = programme
    svc = fake_container.writes
    pair = svc.add_pair(p["mia"].id, p["sam"].id, ["technology"],
                        goals=["Understand generative AI risks for the board"]).pair
    other = svc.add_pair(p["raj"].id, p["eve"].id, ["inclusion"],
                         goals=["Run more inclusive sales meetings"]).pair
    r = fake_container.retriever
    hit = r.search("generative AI risks", 1, pair_id=pair.id, kinds=["pair_goals"])[0]
    assert "generative AI" in hit.text and hit.metadata["pair_id"] == pair.id
    assert r.search("inclusive sales meetings", 5, pair_id=pair.id, kinds=["pair_goals"])[0]\
        .metadata["pair_id"] == pair.id  # never the other pair's goals
    svc.update_goal(pair.id, pair.goals[0].id, text="Set up passkeys for the leadership team")
    texts = [h.text for h in r.search("passkeys", 5, pair_id=pair.id, kinds=["pair_goals"])]
    assert any("passkeys" in t for t in texts) and not any("generative" in t for t in texts)
    svc.delete_pair(other.id)
    assert fake_container.index.get(MetadataFilter.of(scope=[f"pair:{other.id}"])) == []


def test_private_reflection_summaries_are_not_indexed(fake_container, programme):
    import datetime as dt

    _, p = programme
    store = fake_container.store
    pair = fake_container.writes.add_pair(p["mia"].id, p["sam"].id, ["technology"]).pair
    s = store.log_session(pair.id, "2026-01-10", "held", today=dt.date(2026, 2, 1))
    shared = store.add_reflection(pair.id, s.id, p["sam"].id, "Shared text", visibility="pair")
    private = store.add_reflection(pair.id, s.id, p["mia"].id, "Private text")
    unconfirmed = store.add_reflection(pair.id, s.id, p["mia"].id, "Draft", visibility="pair")
    store.set_reflection_summary(shared.id, {"summary": "We practised spotting phishing."},
                                 confirmed=True)
    store.set_reflection_summary(private.id, {"summary": "I felt unheard in the session."},
                                 confirmed=True)
    store.set_reflection_summary(unconfirmed.id, {"summary": "A draft about budgets."})
    fake_container.writes.reindex(pair.id)
    texts = " ".join(c.text for c in fake_container.index.get(
        MetadataFilter.of(scope=[f"pair:{pair.id}"])))
    assert "spotting phishing" in texts and "unheard" not in texts
    assert "budgets" not in texts  # shared only once its author confirms it
    assert "Shared text" not in texts  # raw reflection text is never indexed


def test_retriever_candidates_scale_with_k(fake_container):
    r = HybridRetriever(fake_container.index, candidates=5)
    fake_container.index.upsert([_chunk(f"c{i}", f"mentoring note number {i}") for i in range(40)])
    assert len(r.search("mentoring note", 20)) == 20


def test_pair_writes_leave_the_knowledge_snapshot_alone(retriever, fake_container):
    index = fake_container.index
    retriever.search("phishing", 3)
    snapshot, knowledge = retriever._snapshot, index.generation("global")
    index.upsert([_chunk("p1b", "Pair 1 summary: the board adopted a phishing drill.",
                         kind="pair_summary", scope="pair:1", pair_id=1)])
    assert index.generation("global") == knowledge
    hits = retriever.search("board phishing drill", 5, pair_id=1)
    assert "p1b" in {h.chunk_id for h in hits}  # the pair's new record shows at once
    assert retriever._snapshot is snapshot  # and the knowledge was not reloaded
    index.delete(where=MetadataFilter.of(scope=["pair:1"]))
    assert not {"p1", "p1b"} & {h.chunk_id for h in retriever.search("phishing goal", 10, pair_id=1)}
    index.upsert([_chunk("new", "A new guideline on phishing drills.")])
    assert index.generation("global") != knowledge
    assert "new" in {h.chunk_id for h in retriever.search("phishing drills", 3)}


def test_in_memory_search_matches_the_index_search(fake_container, retriever):
    """Past exact_limit the vector side goes to the index; both must rank alike."""
    beyond = HybridRetriever(fake_container.index, fake_container.embedder, exact_limit=0)
    for query, pair_id, focus in [("phishing sender", None, None), ("phishing goal", 1, None),
                                  ("phone calls", None, "generational")]:
        ours = [h.chunk_id for h in retriever.search(query, 4, pair_id=pair_id, focus=focus)]
        theirs = [h.chunk_id for h in beyond.search(query, 4, pair_id=pair_id, focus=focus)]
        assert ours == theirs, query


def test_knowledge_results_are_reused_until_the_knowledge_changes(retriever, fake_container):
    embedder = fake_container.embedder
    first = retriever.search("confidentiality in a session", 2)
    calls = embedder.calls
    assert retriever.search("confidentiality in a session", 2) == first
    assert embedder.calls == calls  # neither re-embedded nor re-searched
    fake_container.index.upsert([_chunk("conf2", "Confidentiality has limits: safety comes first.")])
    assert "conf2" in {h.chunk_id for h in retriever.search("confidentiality in a session", 2)}


def test_searches_keep_answering_while_a_new_knowledge_snapshot_is_built(retriever, fake_container):
    """A knowledge change is rebuilt by one thread; the others answer from the previous
    snapshot meanwhile instead of waiting, and everyone sees the new one once it is in."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    index = fake_container.index
    assert "conf" in {h.chunk_id for h in retriever.search("confidentiality", 3)}  # first build
    building, release = threading.Event(), threading.Event()
    real_get = index.get

    def slow_get(where=None, include_text=True, include_vectors=False):
        if where is not None and ("scope", ("global",)) in where.clauses:
            building.set()
            assert release.wait(timeout=30)
        return real_get(where, include_text, include_vectors)

    index.get = slow_get
    index.upsert([_chunk("drill", "Guideline: rehearse a phishing drill with the pair.")])
    with ThreadPoolExecutor(max_workers=1) as pool:
        builder = pool.submit(retriever.search, "phishing drill", 3)
        assert building.wait(timeout=30)
        during = retriever.search("phishing drill", 3)  # returns now, from the old snapshot
        assert "drill" not in {h.chunk_id for h in during}
        assert not builder.done()
        release.set()
        assert "drill" in {h.chunk_id for h in builder.result(timeout=30)}
    assert "drill" in {h.chunk_id for h in retriever.search("phishing drill", 3)}
