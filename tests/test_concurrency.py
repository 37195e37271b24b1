"""Concurrency on the real stack: parallel generation on the embedded model is serialised and
never mixes outputs; SQLite takes concurrent writes; ingestion runs while queries are served."""

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from coach.adapters.llama_cpp_chat import EmbeddedChatModel
from coach.services.reflection import ReflectionSummariser

pytestmark = pytest.mark.integration

WORDS = ["Amber", "Birch", "Cedar", "Dune", "Ember", "Fjord", "Garnet", "Harbor", "Iris", "Juniper",
         "Kestrel", "Lagoon", "Maple", "Nectar", "Onyx", "Pebble", "Quartz", "Raven", "Sierra", "Tundra"]


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


def test_concurrent_sqlite_writes_all_land(real_container):
    store = real_container.store
    # a pair of its own, so the shared demo pairs stay as other tests expect them
    mentor = store.add_person("Concurrent Mentor", "cc-mentor@example.org", "mentor", department="A")
    mentee = store.add_person("Concurrent Mentee", "cc-mentee@example.org", "mentee", department="B")
    pair = real_container.programme.add_pair(mentor.id, mentee.id, ["technology"]).pair
    before = 0

    def writer(n):
        for i in range(20):
            store.add_action_item(pair.id, f"Concurrent item {n}-{i}", "mentee")
            store.log_session(pair.id, dt.date(2026, 1, 1) + dt.timedelta(days=i), "cancelled",
                              today=dt.date(2026, 12, 31))
        return n

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sorted(pool.map(writer, range(8))) == list(range(8))
    items = store.get_pair(pair.id).action_items
    assert len(items) == before + 160
    assert len({a.text for a in items if a.text.startswith("Concurrent")}) == 160


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
