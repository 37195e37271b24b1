"""`coach bench`: measured figures, each beside the raw engine underneath where there is one.

Runs in a throwaway data directory (knowledge base + demo programme), never on user data.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coach.container import Container

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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return (time.perf_counter() - started) * 1000, result


def prepare_demo(container: Container, data_dir: Path) -> Container:
    from coach.demo import load_demo, summariser_for

    scratch = container.scratch(data_dir)
    scratch.db.migrate()
    scratch.ingestor.ingest([scratch.settings.knowledge_dir])
    load_demo(scratch.store, scratch.programme,
              summarise=summariser_for(scratch.store, scratch.coach("none")))
    return scratch


def bench_features(container: Container, backends: list[str], runs: int = 20,
                   log: Callable[[str], None] = lambda _: None) -> list[Figure]:
    """End-to-end latency (p50, p95) and fallback rate per feature and backend, on the demo."""
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="coach-bench-") as tmp:
        scratch = prepare_demo(container, Path(tmp))
        pairs = [p for p in scratch.store.list_pairs() if p.status == "active"]
        reflections = [(p, r) for p in pairs for r in p.reflections]
        for backend in backends:
            coach = scratch.coach(backend)
            if backend != "none":
                coach.topics(pairs[0].id, 3)  # load the model before timing
            samples: dict[str, list[float]] = {k: [] for k in ("agenda", "topics", "summary", "chat_first_token", "chat")}
            fallbacks: dict[str, int] = {k: 0 for k in ("agenda", "topics", "summary", "chat")}
            for i in range(runs):
                pair = pairs[i % len(pairs)]
                ms, agenda = _timed(lambda: coach.agenda(pair.id, save=False))
                samples["agenda"].append(ms)
                fallbacks["agenda"] += agenda["provenance"]["fallback"]
                ms, topics = _timed(lambda: coach.topics(pair.id, 3))
                samples["topics"].append(ms)
                fallbacks["topics"] += topics["provenance"]["fallback"]
                rp, reflection = reflections[i % len(reflections)]
                ms, summary = _timed(lambda: coach.summariser.summarise(
                    reflection.text, reflection.author_role, focus=rp.focus).value)
                samples["summary"].append(ms)
                fallbacks["summary"] += summary["provenance"]["fallback"]
                started = time.perf_counter()
                first = None
                done: dict[str, Any] = {}
                for event in coach.chat(pair.id, pair.mentor.id, CHAT_QUESTIONS[i % len(CHAT_QUESTIONS)]):
                    if first is None and event.type in ("token", "replace"):
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
        scratch.close()
    return figures


def seed_programme(container: Container, pairs: int, sessions_per_pair: int = 20,
                   today=None, seed: int = 7) -> None:
    """Bulk-insert a synthetic programme (Core inserts, no ORM): a realistic mix of healthy,
    drifting and stalled pairs with reflections and action items."""
    import datetime as dt
    import random

    from sqlalchemy import insert

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
        first = conn.exec_driver_sql("SELECT min(id) FROM people WHERE email LIKE '%@bench.invalid'").scalar()
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
                            "private": rng.random() < 0.1, "summary": None,
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
    """Time to compute health for every pair of a large programme (load + compute)."""
    figures = []
    with tempfile.TemporaryDirectory(prefix="coach-bench-") as tmp:
        scratch = container.scratch(Path(tmp))
        scratch.db.migrate()
        started = time.perf_counter()
        seed_programme(scratch, pairs, sessions_per_pair)
        seeded = time.perf_counter() - started
        times = []
        for _ in range(repeats):
            ms, results = _timed(lambda: scratch.monitor.health())
            times.append(ms)
        assert len(results) == pairs
        figures.append(Figure(f"health.{pairs}_pairs.p50", statistics.median(times), "ms"))
        figures.append(Figure(f"health.{pairs}_pairs.seed", seeded * 1000, "ms"))
        scratch.close()
    return figures


def bench_dashboard(container: Container, pairs: int | None, runs: int = 20) -> list[Figure]:
    """p50 of the coordinator dashboard page, served in-process, on the demo (pairs=None) or a
    synthetic programme of ``pairs`` pairs. Past weekly snapshots are warmed by a first request."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from coach.services.auth import TokenService

    with tempfile.TemporaryDirectory(prefix="coach-bench-") as tmp:
        if pairs is None:
            scratch = prepare_demo(container, Path(tmp))
            label = "demo"
        else:
            scratch = container.scratch(Path(tmp))
            scratch.db.migrate()
            scratch.ingestor.ingest([scratch.settings.knowledge_dir])
            seed_programme(scratch, pairs)
            label = f"{pairs}_pairs"
        coordinator = scratch.store.add_person("Bench Coordinator", "bench-coord@bench.invalid",
                                               "coordinator")
        token = TokenService(scratch.db).create(coordinator.id)
        client = TestClient(create_app(scratch))
        headers = {"Authorization": f"Bearer {token}"}
        first, response = _timed(lambda: client.get("/dashboard", headers=headers))
        assert response.status_code == 200, response.text[:300]
        times = []
        for _ in range(runs):
            ms, response = _timed(lambda: client.get("/dashboard", headers=headers))
            assert response.status_code == 200
            times.append(ms)
        scratch.close()
    return [Figure(f"dashboard.{label}.p50", statistics.median(times), "ms"),
            Figure(f"dashboard.{label}.p95", percentile(times, 95), "ms"),
            Figure(f"dashboard.{label}.first_request", first, "ms")]


def bench_ingest(container: Container) -> list[Figure]:
    """Chunks per second ingesting knowledge/ into a fresh index, beside a raw
    sentence-transformers encode of the same chunk texts."""
    from coach.ingest.chunking import chunk_document, content_hash
    from coach.ingest.ingest import expand_paths
    from coach.ingest.loaders import load_file

    with tempfile.TemporaryDirectory(prefix="coach-bench-") as tmp:
        scratch = container.scratch(Path(tmp))
        scratch.db.migrate()
        embedder = scratch.embedder
        embedder.embed_documents(["warm up"])  # load the model before timing
        files, _ = expand_paths([scratch.settings.knowledge_dir])
        texts = [c.text for f in files
                 for c in chunk_document(load_file(f), str(f), content_hash(f.read_bytes()))]
        started = time.perf_counter()
        report = scratch.ingestor.ingest([scratch.settings.knowledge_dir])
        coach_s = time.perf_counter() - started
        raw_model = getattr(embedder, "_client", None)
        started = time.perf_counter()
        if raw_model is not None:  # the SentenceTransformer under langchain-huggingface
            raw_model.encode(texts, batch_size=64, normalize_embeddings=True)
        else:
            embedder.embed_documents(texts)
        raw_s = time.perf_counter() - started
        scratch.close()
    coach_rate, raw_rate = report.chunks_added / coach_s, len(texts) / raw_s
    return [Figure("ingest.chunks_per_second", coach_rate, "chunks/s", raw_rate, coach_rate / raw_rate),
            Figure("ingest.chunks", report.chunks_added, "chunks")]
