"""`coach bench`: measured figures, each beside the raw engine underneath where there is one.

Runs in a throwaway data directory (knowledge base + demo programme), never on user data.
"""

from __future__ import annotations

import re
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coach.container import Container
from tools.stats import percentile

CHAT_QUESTIONS = [
    "How do we agree ground rules about confidentiality?",
    "My mentee keeps checking their phone during our sessions. What can I do?",
    "How should I give honest feedback to a senior leader?",
    "What should we do in our last session together?",
    "How do I handle a senior who feels patronised?",
]


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None = None
    ratio: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": round(self.value, 3), "unit": self.unit,
                "baseline": None if self.baseline is None else round(self.baseline, 3),
                "ratio": None if self.ratio is None else round(self.ratio, 3)}


def _timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return (time.perf_counter() - started) * 1000, result


def load_demo_into(scratch: Container) -> Container:
    from coach.operations.demo import load_demo, summariser_for

    load_demo(scratch.store, scratch.writes,
              summarise=summariser_for(scratch.store, scratch.features("none")))
    return scratch


def bench_features(container: Container, backends: list[str], runs: int = 20,
                   log: Callable[[str], None] = lambda _: None) -> list[Figure]:
    """End-to-end latency (p50, p95) and fallback rate per feature and backend, on the demo."""
    figures: list[Figure] = []
    with container.scratch_store(prefix="coach-bench-") as scratch:
        load_demo_into(scratch)
        pairs = [p for p in scratch.store.list_pairs() if p.status == "active"]
        reflections = [(p, r) for p in pairs for r in p.reflections]
        for backend in backends:
            coach = scratch.features(backend)
            if backend != "none":
                coach.topics(pairs[0].id, 3)  # load the model before timing
            samples: dict[str, list[float]] = {
                k: [] for k in ("agenda", "topics", "summary", "chat_first_token", "chat")}
            fallbacks: dict[str, int] = {k: 0 for k in ("agenda", "topics", "summary", "chat")}
            for i in range(runs):
                pair = pairs[i % len(pairs)]
                ms, agenda = _timed(coach.agenda, pair.id, save=False)
                samples["agenda"].append(ms)
                fallbacks["agenda"] += agenda["provenance"]["fallback"]
                ms, topics = _timed(coach.topics, pair.id, 3)
                samples["topics"].append(ms)
                fallbacks["topics"] += topics["provenance"]["fallback"]
                rp, reflection = reflections[i % len(reflections)]
                ms, summarised = _timed(coach.summariser.summarise, reflection.text,
                                        reflection.author_role, focus=rp.focus)
                summary = summarised.value
                samples["summary"].append(ms)
                fallbacks["summary"] += summary["provenance"]["fallback"]
                started = time.perf_counter()
                first = None
                done: dict[str, Any] = {}
                for event in coach.chat(pair.id, pair.mentor.id, CHAT_QUESTIONS[i % len(CHAT_QUESTIONS)]):
                    if first is None and event.type == "token":
                        first = (time.perf_counter() - started) * 1000
                    if event.type == "done":
                        done = event.data
                samples["chat"].append((time.perf_counter() - started) * 1000)
                samples["chat_first_token"].append(first or samples["chat"][-1])
                fallbacks["chat"] += done["provenance"]["fallback"]
                log(f"{backend}: run {i + 1}/{runs}")
            for feature, values in samples.items():
                figures.append(Figure(f"{feature}.{backend}.p50", statistics.median(values), "ms"))
                figures.append(Figure(f"{feature}.{backend}.p95", percentile(values, 95), "ms"))
            for feature, count in fallbacks.items():
                figures.append(Figure(f"{feature}.{backend}.fallback_rate", count / runs, "share"))
    return figures


def seed_programme(container: Container, pairs: int, sessions_per_pair: int = 20,
                   today=None, seed: int = 7) -> None:
    """Bulk-insert a synthetic programme (Core inserts, no ORM): a realistic mix of healthy,
    drifting and stalled pairs with reflections and action items."""
    import datetime as dt
    import random

    from sqlalchemy import func, insert, select

    from coach.store.models import ActionItem, Goal, Pair, Person, Programme, Reflection, Session

    rng = random.Random(seed)
    today = today or dt.date.today()
    db = container.db
    with db.engine.begin() as conn:
        programme_id = conn.execute(insert(Programme).values(
            name=f"Synthetic {pairs} pairs", objectives="", default_cadence_days=14,
            default_session_minutes=45, health_thresholds={})).inserted_primary_key[0]
        people = [{"name": f"Person {i}", "email": f"p{i}@bench.invalid",
                   "role": "mentor" if i % 2 == 0 else "mentee", "department": f"D{i % 40}"}
                  for i in range(2 * pairs)]
        conn.execute(insert(Person), people)
        first = conn.execute(select(func.min(Person.id))
                             .where(Person.email.like("%@bench.invalid"))).scalar()
        pair_rows, goal_rows = [], []
        for i in range(pairs):
            cadence = rng.choice([14, 14, 21, 28])
            pair_rows.append({"programme_id": programme_id, "mentor_id": first + 2 * i,
                              "mentee_id": first + 2 * i + 1, "focus": ["technology"],
                              "cadence_days": cadence,
                              "starts_on": today - dt.timedelta(days=cadence * sessions_per_pair + 30),
                              "status": "active"})
        conn.execute(insert(Pair), pair_rows)
        pair_ids = [r[0] for r in conn.exec_driver_sql(
            f"SELECT id, cadence_days FROM pairs WHERE programme_id = {programme_id} ORDER BY id")]
        cadences = [r["cadence_days"] for r in pair_rows]
        session_rows = []
        for pid, cadence in zip(pair_ids, cadences, strict=True):
            kind = rng.random()
            last_gap = 5 if kind < 0.6 else 35 if kind < 0.8 else 90
            for k in range(sessions_per_pair):
                day = today - dt.timedelta(days=last_gap + (sessions_per_pair - 1 - k) * cadence)
                status = "held" if rng.random() > (0.1 if kind < 0.8 else 0.4) else "cancelled"
                session_rows.append({"pair_id": pid, "date": day, "status": status, "minutes": 45,
                                     "notes": ""})
            if kind < 0.6:
                session_rows.append({"pair_id": pid, "date": today + dt.timedelta(days=7),
                                     "status": "scheduled", "minutes": 45, "notes": ""})
            goal_rows.append({"pair_id": pid, "text": "A goal", "status": "in_progress"})
        conn.execute(insert(Session), session_rows)
        conn.execute(insert(Goal), goal_rows)
        sessions = conn.exec_driver_sql(
            "SELECT s.id, s.pair_id, p.mentee_id FROM sessions s JOIN pairs p ON p.id = s.pair_id "
            f"WHERE s.status = 'held' AND p.programme_id = {programme_id}").all()
        reflection_rows = [{"session_id": sid, "author_id": mentee, "text": "Synthetic reflection.",
                            "visibility": rng.choice(["private", "pair", "pair", "programme"]),
                            "summary": None,
                            "sentiment": rng.choice(["positive", "neutral", "negative"]),
                            "engagement": rng.choice(["high", "medium", "low"]),
                            "blocker_count": rng.choice([0, 0, 1]), "summary_confirmed": True}
                           for sid, _pid, mentee in sessions if rng.random() < 0.5]
        conn.execute(insert(Reflection), reflection_rows)
        conn.execute(insert(ActionItem), [
            {"pair_id": pid, "owner": "mentee", "text": "An action",
             "due": today - dt.timedelta(days=rng.randint(-20, 60)), "done": rng.random() < 0.6,
             "origin": "import"} for pid in pair_ids for _ in range(2)])


def bench_health(container: Container, pairs: int = 10_000, sessions_per_pair: int = 20,
                 repeats: int = 3) -> list[Figure]:
    """Time to compute health for every pair of a large programme (load + compute), bypassing
    the cache that serves unchanged data (the dashboard figure shows that one)."""
    figures = []
    with container.scratch_store((), prefix="coach-bench-") as scratch:
        started = time.perf_counter()
        seed_programme(scratch, pairs, sessions_per_pair)
        seeded = time.perf_counter() - started
        times = []
        for _ in range(repeats):
            ms, results = _timed(lambda: scratch.monitor.health(cached=False))
            times.append(ms)
        assert len(results) == pairs
        figures.append(Figure(f"health.{pairs}_pairs.p50", statistics.median(times), "ms"))
        figures.append(Figure(f"health.{pairs}_pairs.seed", seeded * 1000, "ms"))
    return figures


def bench_dashboard(container: Container, pairs: int | None, runs: int = 20) -> list[Figure]:
    """p50 of the coordinator dashboard page, served in-process, on the demo (pairs=None) or a
    synthetic programme of ``pairs`` pairs. Past weekly snapshots are warmed by a first request."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from coach.store.credentials import TokenService

    with container.scratch_store(prefix="coach-bench-") as scratch:
        if pairs is None:
            load_demo_into(scratch)
            label = "demo"
        else:
            seed_programme(scratch, pairs)
            label = f"{pairs}_pairs"
        coordinator = scratch.store.add_person("Bench Coordinator", "bench-coord@bench.invalid",
                                               "coordinator")
        token = TokenService(scratch.db).issue_personal(coordinator.id).token
        client = TestClient(create_app(scratch))
        headers = {"Authorization": f"Bearer {token}"}
        first, response = _timed(lambda: client.get("/dashboard", headers=headers))
        assert response.status_code == 200, response.text[:300]
        times = []
        for _ in range(runs):
            ms, response = _timed(lambda: client.get("/dashboard", headers=headers))
            assert response.status_code == 200
            times.append(ms)
    return [Figure(f"dashboard.{label}.p50", statistics.median(times), "ms"),
            Figure(f"dashboard.{label}.p95", percentile(times, 95), "ms"),
            Figure(f"dashboard.{label}.first_request", first, "ms")]


def bench_ingest(container: Container) -> list[Figure]:
    """Chunks per second ingesting knowledge/ into a fresh index, beside a raw
    sentence-transformers encode of the same chunk texts."""
    from coach.ingest.chunking import chunk_document, content_hash
    from coach.ingest.ingest import expand_paths
    from coach.ingest.loaders import load_file

    with container.scratch_store((), prefix="coach-bench-") as scratch:
        embedder = scratch.embedder
        embedder.embed_documents(["warm up"])  # load the model before timing
        files = [c.path for c in expand_paths([scratch.settings.knowledge_dir])]
        texts = [c.text for f in files
                 for c in chunk_document(load_file(f), str(f), content_hash(f.read_bytes()))]
        started = time.perf_counter()
        report = scratch.ingestor.ingest([scratch.settings.knowledge_dir])
        coach_s = time.perf_counter() - started
        raw_model = getattr(embedder, "sentence_transformer", None)
        started = time.perf_counter()
        if raw_model is not None:  # the SentenceTransformer under our embedder
            raw_model.encode(texts, batch_size=64, normalize_embeddings=True)
        else:
            embedder.embed_documents(texts)
        raw_s = time.perf_counter() - started
    coach_rate, raw_rate = report.chunks_added / coach_s, len(texts) / raw_s
    return [Figure("ingest.chunks_per_second", coach_rate, "chunks/s", raw_rate, coach_rate / raw_rate),
            Figure("ingest.chunks", report.chunks_added, "chunks")]


def _dev_queries() -> list[tuple[str, str | None]]:
    import json

    path = Path(__file__).resolve().parent.parent / "evals" / "datasets" / "dev" / "retrieval.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(row["query"], row.get("focus")) for row in rows]


def _add_synthetic_chunks(index, seeds: list, count: int, start: int, rng) -> None:
    """Grow the index with ``count`` document chunks made from the knowledge base: each mixes
    sentences of two real sections, with the mean of their vectors plus noise as its vector, so
    the collection has realistic texts and a realistic spread of vectors without hours of
    encoding. Added straight to the collection (the set-up is not what is measured)."""
    import numpy as np

    from coach.ports import Chunk

    focuses = ["technology", "generational", "inclusion", "general"]
    batch = 5000
    for offset in range(0, count, batch):
        ids, texts, metas, vectors = [], [], [], []
        for i in range(offset, min(count, offset + batch)):
            a, b = seeds[rng.integers(len(seeds))], seeds[rng.integers(len(seeds))]
            sentences = (a.text.split(". ")[:3] + b.text.split(". ")[:3])
            rng.shuffle(sentences)
            vector = np.asarray(a.vector) + np.asarray(b.vector) + rng.normal(0, 0.02, len(a.vector))
            number = start + i
            ids.append(f"synthetic-{number:07d}")
            texts.append(". ".join(sentences))
            metas.append({"source": f"synthetic/document-{number // 20:05d}.md",
                          "heading": f"Section {number % 20}", "kind": "document",
                          "scope": "global", "focus": focuses[number % 4], "body_start": 0})
            vectors.append(vector / np.linalg.norm(vector))
        index.collection.add(ids=ids, documents=texts, metadatas=metas,
                             embeddings=np.asarray(vectors, dtype=np.float32))
    # One public write, so every cache built on the index sees the new generation.
    index.upsert([Chunk(f"synthetic-{start + count:07d}", "A closing synthetic section.",
                        {"source": "synthetic/end.md", "heading": "End", "kind": "document",
                         "scope": "global", "focus": "general", "body_start": 0})])


def bench_retrieval(container: Container, sizes: tuple[int, ...] = (1_000, 10_000, 100_000),
                    rounds: int = 2, log: Callable[[str], None] = lambda _: None) -> list[Figure]:
    """Hybrid retrieval (k=5, with the dev set's focus filters) at growing collection sizes,
    beside the raw engines: a sentence-transformers encode of the query plus a raw, unfiltered
    Chroma query for 5 results."""
    import numpy as np

    from coach.retrieval.hybrid import HybridRetriever

    queries = _dev_queries()
    figures: list[Figure] = []
    rng = np.random.default_rng(7)
    with container.scratch_store(prefix="coach-bench-") as scratch:
        index = scratch.index
        seeds = [c for c in index.get(include_vectors=True) if c.metadata.get("role") != "question"]
        raw_model = scratch.embedder.sentence_transformer
        collection = index.collection

        def raw_search(query: str):  # the engines underneath: encode, then Chroma's query
            return collection.query(
                query_embeddings=[raw_model.encode(query, normalize_embeddings=True)],
                n_results=5, include=["documents", "metadatas", "distances"])

        for size in sorted(sizes):
            have = index.count()
            if size > have:
                log(f"retrieval: growing the index to {size} chunks")
                _add_synthetic_chunks(index, seeds, size - have - 1, have, rng)
            retriever = HybridRetriever(index, scratch.embedder)
            build_ms, _ = _timed(retriever.search, "warm up", 5)
            coach_ms, raw_ms = [], []
            for _ in range(rounds):
                for query, focus in queries:
                    ms, _ = _timed(retriever.search, query, 5, focus=focus)
                    coach_ms.append(ms)
                    ms, _ = _timed(raw_search, query)
                    raw_ms.append(ms)
            label = f"retrieval.{index.count()}_chunks"
            for q in (50, 95):
                ours, raw = percentile(coach_ms, q), percentile(raw_ms, q)
                figures.append(Figure(f"{label}.p{q}", ours, "ms", raw, ours / raw))
            figures.append(Figure(f"{label}.snapshot_build", build_ms, "ms"))
            log(f"retrieval: {label} p50 {percentile(coach_ms, 50):.1f} ms, "
                f"raw {percentile(raw_ms, 50):.1f} ms")
    return figures


def bench_generation(container: Container, runs: int = 5) -> list[Figure]:
    """Tokens per second generating a reflection summary through the coach's embedded adapter
    (the summary feature's own prompt and JSON-schema grammar, recorded from a real call),
    beside raw llama-cpp-python on the same prompt, schema and sampling settings."""
    from llama_cpp import Llama

    from coach.adapters.chat_models import make_chat_model
    from coach.operations.demo import load_demo

    model = make_chat_model(container.settings, "embedded")
    calls: list[dict[str, Any]] = []

    class Recording:
        name = model.name
        capabilities = model.capabilities

        def complete(self, messages, *, json_schema=None, max_tokens=None):
            calls.append({"messages": messages, "json_schema": json_schema, "max_tokens": max_tokens})
            return model.complete(messages, json_schema=json_schema, max_tokens=max_tokens)

        def stream(self, messages, *, max_tokens=None):  # pragma: no cover - not used here
            return model.stream(messages, max_tokens=max_tokens)

    with container.scratch_store((), prefix="coach-bench-") as scratch:
        load_demo(scratch.store, scratch.writes, summarise=None)
        reflection = next(r for p in scratch.store.list_pairs() for r in p.reflections if len(r.text) > 400)
        coach = scratch.features("none")
        coach.summariser.model = Recording()
        coach.summariser.summarise(reflection.text, reflection.author_role, focus="technology")
    if not calls:
        raise RuntimeError("The summary feature made no model call to measure.")
    call = calls[0]
    raw = Llama(model_path=str(model.path), n_ctx=model.n_ctx, n_threads=model.threads,
                seed=model.seed, verbose=False)
    kwargs = {"messages": call["messages"], "temperature": model.temperature, "seed": model.seed,
              "max_tokens": call["max_tokens"] or model.max_tokens,
              "response_format": {"type": "json_object", "schema": call["json_schema"]}}
    model.complete(call["messages"], json_schema=call["json_schema"], max_tokens=kwargs["max_tokens"])
    raw.create_chat_completion(**kwargs)  # warm both
    ours, theirs = [], []
    for _ in range(runs):
        ms, result = _timed(lambda: model.complete(call["messages"], json_schema=call["json_schema"],
                                                   max_tokens=kwargs["max_tokens"]))
        ours.append(result.completion_tokens / (ms / 1000))
        ms, result = _timed(lambda: raw.create_chat_completion(**kwargs))
        theirs.append(result["usage"]["completion_tokens"] / (ms / 1000))
    raw.close()
    a, b = statistics.median(ours), statistics.median(theirs)
    return [Figure("generation.tokens_per_second", a, "tokens/s", b, a / b)]


def _rss_peak_mb(pid: int) -> float:
    """VmHWM (the peak resident set) of a process, in MB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"No VmHWM for process {pid}")


def bench_cold_start(container: Container, backend: str = "embedded",
                     timeout_s: float = 180.0) -> list[Figure]:
    """Start `coach serve` on a prepared demo and time, from the process start: the first
    served request (/healthz), then the first agenda and the first reflection summary through
    the API (loading the embedding model and the LLM); then the server's peak RSS with both
    models loaded."""
    import os
    import socket
    import subprocess
    import sys

    import httpx

    from coach.store.credentials import TokenService

    with tempfile.TemporaryDirectory(prefix="coach-bench-") as tmp:
        with container.scratch_store(data_dir=Path(tmp)) as scratch:  # the server's data, kept
            load_demo_into(scratch)
            pair = next(p for p in scratch.store.list_pairs()
                        if p.status == "active" and p.reflections)
            mentor = TokenService(scratch.db).issue_personal(pair.mentor.id).token
            mentee = TokenService(scratch.db).issue_personal(pair.mentee.id).token
            settings = scratch.settings
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {**os.environ, "COACH_DATA_DIR": str(settings.data_dir),
               "COACH_KNOWLEDGE_DIR": str(settings.knowledge_dir), "COACH_LLM_BACKEND": backend,
               "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
        env.pop("COACH_DATABASE_URL", None)
        env.pop("COACH_VECTOR_STORE", None)
        command = [str(Path(sys.executable).with_name("coach")), "serve", "--port", str(port)]
        base = f"http://127.0.0.1:{port}"
        started = time.perf_counter()
        server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, start_new_session=True)
        try:
            with httpx.Client(base_url=base, timeout=120) as client:
                while True:
                    if server.poll() is not None:
                        raise RuntimeError(f"coach serve exited: {server.stderr.read().decode()[-600:]}")
                    if time.perf_counter() - started > timeout_s:
                        raise RuntimeError(f"coach serve did not answer within {timeout_s:.0f} s")
                    try:
                        if client.get("/healthz").status_code == 200:
                            break
                    except httpx.TransportError:
                        time.sleep(0.05)
                first_request = time.perf_counter() - started
                response = client.post(f"/api/v1/pairs/{pair.id}/agenda", json={"save": False},
                                       headers={"Authorization": f"Bearer {mentor}"})
                response.raise_for_status()
                first_agenda = time.perf_counter() - started
                text = ("We talked about how the team uses chat tools. I learned that short "
                        "voice notes are welcome. I will try one with my team by Friday.")
                response = client.post(f"/api/v1/pairs/{pair.id}/reflections",
                                       json={"text": text, "visibility": "pair"},
                                       headers={"Authorization": f"Bearer {mentee}"})
                response.raise_for_status()
                first_summary = time.perf_counter() - started
                peak = _rss_peak_mb(server.pid)
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
    return [Figure("cold_start.first_request", first_request * 1000, "ms"),
            Figure(f"cold_start.first_agenda.{backend}", first_agenda * 1000, "ms"),
            Figure(f"cold_start.first_summary.{backend}", first_summary * 1000, "ms"),
            Figure(f"peak_rss.server.{backend}", peak, "MB")]


READER_TEXT = (
    "Good session overall. Amara walked me through prompting for the quarterly forecast, though "
    "honestly my laptop kept freezing so we lost about ten minutes. I've promised to try the "
    "assistant on the March board pack before we next meet, and Amara will send me her checklist "
    "for spotting made-up numbers by Wednesday. I do worry that with the restructure I may not "
    "have time for these sessions after January. We also looked at how the assistant handles "
    "tables: it read the regional split correctly but invented a growth figure for the north, "
    "which we only caught because Amara asked me to check every number against the ledger. She "
    "thinks the team should agree a short checklist before anyone uses it on board papers, and I "
    "agree. Next time we want to try the meeting-notes feature on a real leadership meeting, with "
    "everyone's consent, and compare its action list with the minutes. Amara pointed out that "
    "her own team already does this for stand-ups and keeps a log of what the tool gets wrong, "
    "which she will share with me. I left more confident than I expected, if a little worried "
    "about how much checking this will take.")


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bench_reader(runs: int = 40) -> list[Figure]:
    """Reading a 200-word reflection with the `none` backend's reader (spaCy, its fine-tuned
    MiniLM, the classifiers): latency once loaded, the first read (which loads them, once per
    process), and the memory they add."""
    import datetime as dt

    from coach.adapters.embeddings import make_embedder, resolve_precision
    from coach.reader.language import encoder_path
    from coach.reader.reader import Reader

    reader, precision = Reader(), resolve_precision("auto")
    before = _rss_mb()
    first, _ = _timed(lambda: reader.read(READER_TEXT, "mentee", session_date=dt.date(2026, 3, 2)))
    added = _rss_mb() - before
    samples = [_timed(lambda: reader.read(READER_TEXT, "mentee",
                                          session_date=dt.date(2026, 3, 2)))[0]
               for _ in range(runs)]
    # where the time goes: spaCy's parse, and MiniLM over the sentences and clauses (packed,
    # beside sentence-transformers' own padded batches)
    *_, units, _ = reader.units(READER_TEXT)
    texts = [u.text for u in units]
    parse = [_timed(lambda: reader.sentences(READER_TEXT))[0] for _ in range(runs)]
    embed = [_timed(lambda: reader.embed(texts))[0] for _ in range(runs)]
    model = make_embedder(encoder_path()).sentence_transformer
    best_batch = {"bfloat16": 32, "float32": 8}[precision]  # sentence-transformers' best here
    plain = [_timed(lambda: model.encode(texts, batch_size=best_batch,
                                         normalize_embeddings=True))[0] for _ in range(runs)]
    words = len(READER_TEXT.split())
    return [Figure(f"reader.{words}_words.p50", statistics.median(samples), "ms"),
            Figure(f"reader.{words}_words.p95", percentile(samples, 95), "ms"),
            Figure("reader.parse.p50", statistics.median(parse), "ms"),
            Figure(f"reader.minilm_{precision}.{len(texts)}_units.p50",
                   statistics.median(embed), "ms", statistics.median(plain),
                   statistics.median(embed) / statistics.median(plain)),
            Figure("reader.first_read", first, "ms"),
            Figure("reader.added_rss", added, "MB")]


# The targets from the performance issue, for this 2-core machine: (figure name pattern,
# field, comparison, bound). Retrieval is held to its target at about 10k chunks: the figure's
# name carries the collection's count.
TARGETS: list[tuple[str, str, str, float]] = [
    (r"retrieval\.10\d{3}_chunks\.p50", "ratio", "<=", 1.5),
    (r"ingest\.chunks_per_second", "ratio", ">=", 0.8),
    (r"generation\.tokens_per_second", "ratio", ">=", 0.9),
    (r"agenda\.embedded\.p50", "value", "<=", 3000),
    (r"agenda\.none\.p50", "value", "<=", 150),
    (r"summary\.embedded\.p50", "value", "<=", 2500),
    (r"health\.10000_pairs\.p50", "value", "<=", 2000),
    (r"dashboard\.10000_pairs\.p50", "value", "<=", 500),
    (r"cold_start\.first_request", "value", "<=", 10_000),
    (r"peak_rss\.server\.embedded", "value", "<=", 1536),
    (r"reader\.\d+_words\.p50", "value", "<=", 50),
]


def target_for(figure: dict[str, Any]) -> tuple[str, bool] | None:
    """The target a figure is held to, as text, and whether it is met."""
    for pattern, field_name, op, bound in TARGETS:
        if re.fullmatch(pattern, figure["name"]):
            value = figure[field_name]
            if value is None:
                return None
            met = value <= bound if op == "<=" else value >= bound
            return f"{field_name} {op} {bound:g}", met
    return None
