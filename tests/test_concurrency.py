"""Concurrency: parallel generation on the embedded model is serialised and never mixes
outputs; the store (SQLite and PostgreSQL) takes concurrent writes; ingestion runs while
queries are served."""

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from coach.adapters.llama_cpp_chat import EmbeddedChatModel
from coach.domain.errors import Conflict
from coach.features.reflection import ReflectionSummariser
from tests.conftest import KNOWLEDGE

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
            capabilities = model.capabilities

            def complete(self, messages, *, json_schema=None, max_tokens=None):
                return model.complete(messages, json_schema=json_schema, max_tokens=64)

        summariser = ReflectionSummariser(real_container.catalogue, real_container.prompts,
                                          real_container.reader, Short(), "embedded")

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
    pair = c.writes.add_pair(p["mia"].id, p["sam"].id, ["technology"]).pair

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


def race(n, action):
    """Run ``action`` in n threads released together; the results, or the errors raised."""
    barrier = threading.Barrier(n)

    def attempt(i):
        barrier.wait(timeout=30)
        try:
            return action(i)
        except Exception as exc:  # the test sorts outcomes
            return exc

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(attempt, range(n)))


def test_racing_sign_ups_with_one_email_give_one_person_and_conflicts(fake_container):
    store = fake_container.store
    store.create_programme("Pilot")
    outcomes = race(6, lambda i: store.add_person(f"Ana {i}", "ana@example.org", "mentor"))
    created = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(created) == 1, outcomes
    assert all(isinstance(o, Conflict) and "already exists" in str(o)
               for o in outcomes if o not in created), outcomes
    assert [p.email for p in store.list_people()] == ["ana@example.org"]


def test_racing_pairings_of_the_same_two_give_one_open_pair(fake_container, programme):
    c = fake_container
    _, p = programme
    outcomes = race(6, lambda i: c.writes.add_pair(p["mia"].id, p["sam"].id, ["technology"]))
    created = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(created) == 1, outcomes
    assert all(isinstance(o, Conflict) and "already mentors" in str(o)
               for o in outcomes if o not in created), outcomes
    assert [q.id for q in c.store.list_pairs()] == [created[0].pair.id]


def test_agendas_prepared_at_once_share_one_booked_session(fake_container, programme):
    """A double-click, or two workers: the first agenda books the next session once."""
    c = fake_container
    c.ingestor.ingest([KNOWLEDGE])
    _, p = programme
    pair = c.writes.add_pair(p["mia"].id, p["sam"].id, ["technology"],
                                starts_on=dt.date(2026, 1, 5)).pair
    c.store.log_session(pair.id, "2026-01-10", "held", today=dt.date(2026, 2, 1))
    coach = c.features("none")
    outcomes = race(6, lambda i: coach.agenda(pair.id, today=dt.date(2026, 2, 1)))
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    booked = [s for s in c.store.get_pair(pair.id).sessions if s.status == "scheduled"]
    assert len(booked) == 1 and booked[0].agenda is not None
    assert {o["session_id"] for o in outcomes} == {booked[0].id}


def test_two_writers_reindexing_one_pair_never_leave_the_index_stale(fake_container, programme):
    """Worker A reads the pair, then worker B adds a goal and reindexes, then A syncs: from a
    stale read A would delete B's entry. Holding the pair makes B wait for A instead."""
    from coach.domain.sources import pair_scope
    from coach.ports import MetadataFilter
    from coach.retrieval.pair_index import pair_chunks

    c = fake_container
    _, p = programme
    pair = c.writes.add_pair(p["mia"].id, p["sam"].id, ["technology"], goals=["First"]).pair
    index, real_get = c.index, c.index.get
    a_reading, b_done = threading.Event(), threading.Event()
    a_thread = []

    def get(where=None, include_text=True, include_vectors=False):
        if threading.current_thread() in a_thread:  # A has read the pair: let B go first
            a_reading.set()
            b_done.wait(timeout=1.5)  # B is done at once, or (held) waits for A
        return real_get(where, include_text, include_vectors)

    def worker_a():
        a_thread.append(threading.current_thread())
        c.writes.reindex(pair.id)

    def worker_b():
        assert a_reading.wait(timeout=30)
        c.writes.add_goal(pair.id, "Second, added while A was syncing")
        b_done.set()

    index.get = get
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            for future in [pool.submit(worker_a), pool.submit(worker_b)]:
                future.result(timeout=60)
    finally:
        index.get = real_get
    wanted = {ch.id for ch in pair_chunks(c.store.get_pair(pair.id))}
    indexed = {ch.id for ch in index.get(MetadataFilter.of(scope=[pair_scope(pair.id)]))}
    assert indexed == wanted


def test_concurrent_overviews_keep_one_snapshot_per_week(fake_container, programme):
    """Workers computing the same past week race to save its snapshot: one row wins, and
    every worker still answers."""
    c = fake_container
    _, p = programme
    pair = c.writes.add_pair(p["mia"].id, p["sam"].id, ["technology"],
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
    from coach.operations.doctor import run_doctor

    assert run_doctor(scratch).findings == []
    scratch.close()


def test_runners_racing_for_ingestion_jobs_claim_each_once_and_run_one_at_a_time(fake_container):
    """Workers' runners share the job table: each job is claimed by one runner, one job runs at
    a time, and only its claimer can finish it (threads with their own connections here,
    processes in a deployment)."""
    import time

    from coach.store.db import Database
    from coach.store.ingest_jobs import IngestJobStore

    url = fake_container.db.engine.url.render_as_string(hide_password=False)
    ids = [IngestJobStore(fake_container.db).create("reingest", f"job {i}").id for i in range(12)]
    claimed, overlaps, stolen, lock = [], [], [], threading.Lock()

    def runner(i):
        db = Database(url)
        store = IngestJobStore(db)
        try:
            while len(claimed) < len(ids):
                job = store.claim_next(f"runner-{i}")
                if job is None:
                    time.sleep(0.002)
                    continue
                with lock:
                    claimed.append(job.id)
                running = [j.id for j in store.running()]
                if running != [job.id]:
                    overlaps.append(running)
                if store.finish(job.id, f"runner-{i + 100}", {}):
                    stolen.append(job.id)
                assert store.finish(job.id, f"runner-{i}", {"files": 0})
        finally:
            db.dispose()

    outcomes = race(6, runner)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert sorted(claimed) == ids and not overlaps and not stolen
    statuses = {j.status for j in IngestJobStore(fake_container.db).page(50, 0)[0]}
    assert statuses == {"done"}
