"""Concurrency: parallel generation on the embedded model is serialised and never mixes
outputs; the store (SQLite and PostgreSQL) takes concurrent writes; ingestion runs while
queries are served."""

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from coach.adapters.llama_cpp_chat import EmbeddedChatModel
from coach.services.reflection import ReflectionSummariser

WORDS = ["Amber", "Birch", "Cedar", "Dune", "Ember", "Fjord", "Garnet", "Harbor", "Iris", "Juniper",
         "Kestrel", "Lagoon", "Maple", "Nectar", "Onyx", "Pebble", "Quartz", "Raven", "Sierra", "Tundra"]


@pytest.mark.integration
@pytest.mark.llm
def test_twenty_parallel_generations_are_serialised_and_never_mixed(real_container):
    s = real_container.settings
    model = EmbeddedChatModel(s.llm_model_path, n_ctx=s.llm_context, max_tokens=64)
    llm = model.llm
    in_flight, peak, lock = [0], [0], threading.Lock()
    original = llm.create_chat_completion

    def counting(*args, **kwargs):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        try:
            return original(*args, **kwargs)
        finally:
            with lock:
                in_flight[0] -= 1

    llm.create_chat_completion = counting
    try:
        class Short:  # the real model, with short answers to keep the test quick
            name = model.name

            def complete(self, messages, *, json_schema=None, max_tokens=None):
                return model.complete(messages, json_schema=json_schema, max_tokens=64)

        summariser = ReflectionSummariser(real_container.catalogue, real_container.prompts,
                                          Short(), "embedded")

        def one(word):
            text = (f"Today we looked at the {word} project dashboard together. I learned how the "
                    f"{word} figures are built. I will share the {word} report with my team.")
            return word, summariser.summarise(text, "mentee")

        with ThreadPoolExecutor(max_workers=20) as pool:
            results = list(pool.map(one, WORDS))
    finally:
        llm.create_chat_completion = original
    assert len(results) == 20 and peak[0] == 1, f"{peak[0]} generations ran at once"
    for word, result in results:
        out = result.value
        text = " ".join([out["summary"], *out["key_points"], *(a["text"] for a in out["action_items"])])
        assert word in text
        assert not any(other in text for other in WORDS if other != word), (word, text)
        assert result.provenance.tokens > 0


def test_concurrent_writes_all_land(fake_container, programme):
    c = fake_container
    _, p = programme
    pair = c.programme.add_pair(p["mia"].id, p["sam"].id, ["technology"]).pair

    def writer(n):
        for i in range(20):
            c.store.add_action_item(pair.id, f"Concurrent item {n}-{i}", "mentee")
            c.store.log_session(pair.id, dt.date(2026, 1, 1) + dt.timedelta(days=i), "cancelled",
                                today=dt.date(2026, 12, 31))
        return n

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sorted(pool.map(writer, range(8))) == list(range(8))
    loaded = c.store.get_pair(pair.id)
    assert len(loaded.action_items) == 160 and len(loaded.sessions) == 160
    assert len({a.text for a in loaded.action_items}) == 160
    assert len({a.id for a in loaded.action_items}) == 160


def test_concurrent_overviews_keep_one_snapshot_per_week(fake_container, programme):
    """Workers computing the same past week race to save its snapshot: one row wins, and
    every worker still answers."""
    c = fake_container
    _, p = programme
    pair = c.programme.add_pair(p["mia"].id, p["sam"].id, ["technology"],
                                starts_on=dt.date(2026, 1, 5)).pair
    c.store.log_session(pair.id, "2026-02-02", "held", today=dt.date(2026, 3, 1))
    barrier = threading.Barrier(6)

    def overview(_):
        barrier.wait(timeout=30)
        return c.monitor.overview(dt.date(2026, 3, 1), weeks=4)["snapshots"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(overview, range(6)))
    assert all(r == results[0] for r in results)
    from sqlalchemy import func, select

    from coach.store.models import HealthSnapshot

    with c.db.session() as s:
        assert s.scalar(select(func.count(HealthSnapshot.id))) == 4


@pytest.mark.integration
def test_ingestion_while_queries_are_served(real_container, tmp_path):
    scratch = real_container.scratch(tmp_path / "data")
    scratch.db.migrate()
    scratch.ingestor.ingest([scratch.settings.knowledge_dir])
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(30):
        (docs / f"note-{i}.md").write_text(
            f"# Note {i}\n\n## Practice {i}\n\nPairs in office {i} meet at the river cafe on "
            f"Tuesdays and review action items {i} together.\n")
    errors, answered = [], []
    stop = threading.Event()

    def ask():
        while not stop.is_set():
            try:
                hits = scratch.retriever.search("how should we agree ground rules", 5)
                answered.append(len(hits))
            except Exception as exc:  # any failure while ingesting is the bug we look for
                errors.append(repr(exc))

    reader = threading.Thread(target=ask)
    reader.start()
    try:
        report = scratch.ingestor.ingest([docs])
    finally:
        stop.set()
        reader.join(timeout=60)
    assert not errors, errors[:3]
    assert answered and all(n == 5 for n in answered)
    assert report.chunks_added == 30 and report.skipped == []
    from coach.services.doctor import run_doctor

    assert run_doctor(scratch).findings == []
    scratch.close()
