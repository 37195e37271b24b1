"""The Alembic migrations against a real PostgreSQL (Debian's, started by the test set-up):
empty database to head, down to base and up again, data through every step, idempotent and
safe when several workers migrate at once."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from coach.store.db import Database, current_revision, downgrade, head_revision, migrate
from coach.store.repository import Store

REPO = Path(__file__).resolve().parent.parent
TABLES = {"alembic_version", "programmes", "people", "pairs", "goals", "sessions", "reflections",
          "action_items", "documents", "chat_messages", "api_tokens", "health_snapshots",
          "web_sessions", "credential_events", "signin_attempts", "ingest_jobs",
          "reader_corrections"}


@pytest.fixture
def pg(postgres_cluster):
    db = Database(postgres_cluster.database())
    assert db.engine.dialect.name == "postgresql"
    yield db
    db.dispose()


def schema(engine) -> dict:
    """Tables, columns, checks, unique constraints, indexes and foreign keys, comparable."""
    insp = inspect(engine)
    out = {}
    for table in sorted(insp.get_table_names()):
        out[table] = {
            "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table)],
            "checks": sorted((c["name"], c["sqltext"]) for c in insp.get_check_constraints(table)),
            "unique": sorted((u["name"] or "", tuple(u["column_names"]))
                             for u in insp.get_unique_constraints(table)),
            "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                              for i in insp.get_indexes(table)),
            "fks": sorted((tuple(f["constrained_columns"]), f["referred_table"],
                           (f.get("options") or {}).get("ondelete") or "")
                          for f in insp.get_foreign_keys(table)),
        }
    return out


def insert_self_pair(db: Database) -> None:
    with db.engine.begin() as conn:
        programme = conn.execute(text(
            "INSERT INTO programmes (name, objectives, default_cadence_days, "
            "default_session_minutes, health_thresholds, created_at) "
            "VALUES ('P', '', 14, 45, '{}', now()) RETURNING id")).scalar()
        person = conn.execute(text(
            "INSERT INTO people (name, email, role, department, created_at) "
            "VALUES ('Mia', 'mia@example.org', 'mentor', '', now()) RETURNING id")).scalar()
        conn.execute(text(
            "INSERT INTO pairs (programme_id, mentor_id, mentee_id, focus, cadence_days, "
            "starts_on, status, created_at) VALUES (:g, :m, :m, '[]', 14, '2026-01-01', "
            "'active', now())"), {"g": programme, "m": person})


def test_upgrade_downgrade_upgrade_on_an_empty_database(pg):
    assert current_revision(pg.engine) is None
    migrate(pg.engine)
    assert current_revision(pg.engine) == head_revision() == "0008"
    first = schema(pg.engine)
    assert set(first) == TABLES
    pairs = first["pairs"]
    assert ("ck_pair_not_self", "mentor_id <> mentee_id") in pairs["checks"]
    assert {"ck_pair_status", "ck_pair_cadence"} <= {name for name, _ in pairs["checks"]}
    assert (("mentor_id",), "people", "RESTRICT") in pairs["fks"]
    assert (("programme_id",), "programmes", "CASCADE") in pairs["fks"]
    assert {"ck_person_role"} <= {n for n, _ in first["people"]["checks"]}
    assert {"ck_session_status", "ck_session_minutes"} <= {n for n, _ in first["sessions"]["checks"]}
    assert ("uq_snapshot_week", ("programme_id", "week_ending")) in first["health_snapshots"]["unique"]
    assert ("ix_sessions_pair_date", ("pair_id", "date"), False) in first["sessions"]["indexes"]
    assert ("uq_pairs_open", ("mentor_id", "mentee_id"), True) in pairs["indexes"]
    assert ("blocker_count", "INTEGER", False) in first["reflections"]["columns"]
    jobs = first["ingest_jobs"]
    assert {"ck_ingest_job_kind", "ck_ingest_job_status"} <= {n for n, _ in jobs["checks"]}
    assert ("ix_ingest_jobs_status_id", ("status", "id"), False) in jobs["indexes"]
    assert (("requested_by_id",), "people", "SET NULL") in jobs["fks"]
    # the schema itself refuses a self-pairing, whatever the application does
    with pytest.raises(IntegrityError, match="ck_pair_not_self"):
        insert_self_pair(pg)

    downgrade(pg.engine, "base")
    assert current_revision(pg.engine) is None
    assert set(inspect(pg.engine).get_table_names()) == {"alembic_version"}

    migrate(pg.engine)
    assert current_revision(pg.engine) == head_revision()
    assert schema(pg.engine) == first
    with pytest.raises(IntegrityError, match="ck_pair_not_self"):
        insert_self_pair(pg)


def test_migrate_is_idempotent(pg):
    pg.migrate()
    before = schema(pg.engine)
    programme = Store(pg).create_programme("Pilot")
    pg.migrate()
    migrate(pg.engine)
    assert current_revision(pg.engine) == head_revision()
    assert schema(pg.engine) == before
    with pg.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    assert Store(pg).get_programme(programme.id).name == "Pilot"


def test_workers_migrating_at_once_all_succeed(postgres_cluster):
    """Several processes (Alembic's context is process-global, so not threads) start on one
    empty database together, as workers of a deployment do: every one of them succeeds."""
    url = postgres_cluster.database()
    go = time.time() + 3  # past the workers' import time, so their migrations overlap
    script = ("import sys, time; from coach.store.db import Database; db = Database(sys.argv[1]);"
              " time.sleep(max(0, float(sys.argv[2]) - time.time())); db.migrate(); db.dispose()")
    workers = [subprocess.Popen([sys.executable, "-c", script, url, str(go)], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(4)]
    outcomes = [(w.wait(timeout=120), w.stderr.read()[-1500:]) for w in workers]
    assert all(code == 0 for code, _ in outcomes), outcomes
    db = Database(url)
    try:
        assert current_revision(db.engine) == head_revision()
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        db.dispose()


def test_data_survives_each_step_and_0002_backfills_signals(pg):
    migrate(pg.engine, "0001")
    summary = '{"summary": "Good", "sentiment": "negative", "engagement": "low", "blockers": ["a", "b"]}'
    with pg.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO programmes (id, name, objectives, default_cadence_days, "
            "default_session_minutes, health_thresholds, created_at) "
            "VALUES (1, 'P', '', 14, 45, '{}', now())"))
        conn.execute(text(
            "INSERT INTO people (id, name, email, role, department, created_at) VALUES "
            "(1, 'Mia', 'mia@example.org', 'mentor', '', now()), "
            "(2, 'Sam', 'sam@example.org', 'mentee', '', now())"))
        conn.execute(text(
            "INSERT INTO pairs (id, programme_id, mentor_id, mentee_id, focus, cadence_days, "
            "starts_on, status, created_at) VALUES (1, 1, 1, 2, '[\"technology\"]', 14, "
            "'2026-01-05', 'active', now())"))
        conn.execute(text(
            "INSERT INTO sessions (id, pair_id, date, status, minutes, notes, created_at) "
            "VALUES (1, 1, '2026-01-10', 'held', 45, '', now())"))
        conn.execute(text(
            "INSERT INTO reflections (id, session_id, author_id, text, private, created_at, "
            "summary, summary_confirmed) VALUES "
            "(1, 1, 2, 'We met.', false, now(), CAST(:s AS json), true), "
            "(2, 1, 1, 'Private.', true, now(), NULL, false)"), {"s": summary})
    migrate(pg.engine, "0002")
    with pg.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, sentiment, engagement, blocker_count "
                                 "FROM reflections ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [(1, "negative", "low", 2), (2, None, None, 0)]
    downgrade(pg.engine, "0001")
    with pg.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM reflections")).scalar() == 2
    migrate(pg.engine)

    store = Store(pg)
    pair = store.get_pair(1)
    assert pair.focus == ("technology",)
    assert pair.sessions[0].reflections[0].summary["blockers"] == ["a", "b"]
    assert [r.private for r in pair.reflections] == [False, True]


def test_the_store_round_trips_after_down_and_up_again(pg):
    migrate(pg.engine)
    downgrade(pg.engine, "base")
    migrate(pg.engine)
    store = Store(pg)
    prog = store.create_programme("Pilot", health_thresholds={"gap_warn_ratio": 2.0},
                                  starts_on="2026-01-01")
    mia = store.add_person("Mia Chen", "Mia@Example.org", "mentor", department="Data")
    sam = store.add_person("Sam Økoro", "sam@example.org", "mentee", department="Finance")
    pair = store.add_pair("MIA@example.org", sam.id, ["technology", "inclusion"],
                          goals=["Use AI tools"], starts_on="2026-01-05").pair
    held = store.log_session(pair.id, "2026-01-10", "held", today=dt.date(2026, 2, 1))
    agenda = {"items": [{"title": "Café ☕ chat", "minutes": 10}], "notes": None}
    store.update_session(pair.id, held.id, agenda=agenda, today=dt.date(2026, 2, 1))
    summary = {"summary": "Tried a chatbot", "sentiment": "positive", "engagement": "high",
               "blockers": ["time"], "key_points": ["ünïcode"]}
    store.add_reflection(pair.id, held.id, sam.id, "We tried a chatbot.", summary=summary,
                         visibility="pair",
                         action_items=[{"text": "Share the report", "owner": "mentee",
                                        "due": "2026-01-20"}])
    store.add_reflection(pair.id, held.id, mia.id, "Private note.", visibility="private")
    store.add_chat_turn(pair.id, sam.id, "How?", "Like this.", meta={"sources": ["a.md"]})

    loaded = store.get_pair(pair.id)
    assert store.get_programme(prog.id).health_thresholds == {"gap_warn_ratio": 2.0}
    assert loaded.mentor.email == "mia@example.org" and loaded.mentee.name == "Sam Økoro"
    assert loaded.focus == ("technology", "inclusion") and loaded.goals[0].status == "open"
    assert loaded.sessions[0].agenda == agenda
    public, private = loaded.sessions[0].reflections
    assert public.summary == summary and public.private is False and private.private is True
    assert loaded.action_items[0].due == dt.date(2026, 1, 20) and not loaded.action_items[0].done
    assert store.chat_history(pair.id, sam.id)[1]["meta"] == {"sources": ["a.md"]}
    from coach.store.health_queries import load_health_inputs

    (facts,) = load_health_inputs(pg, pair_ids=[pair.id])
    assert facts.starts_on == dt.date(2026, 1, 5)
    assert [(r.author_role, r.private, r.sentiment, r.blockers) for r in facts.reflections] == \
        [("mentee", False, "positive", 1), ("mentor", True, None, 0)]
