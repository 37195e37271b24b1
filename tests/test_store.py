import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from coach.domain.errors import Conflict, InvalidInput, NotFound, RuleViolation
from coach.store.db import current_revision, head_revision


def test_migrations_reach_head_and_the_database_enforces_foreign_keys(fake_container, backend):
    db = fake_container.db
    assert db.engine.dialect.name == backend
    assert current_revision(db.engine) == head_revision()
    with db.engine.connect() as conn:
        if backend == "sqlite":  # WAL and foreign keys are per-connection pragmas on SQLite
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        else:  # PostgreSQL always logs ahead and enforces keys; text is stored as UTF-8
            assert conn.execute(text("SHOW server_encoding")).scalar() == "UTF8"
            assert conn.execute(text("SHOW client_encoding")).scalar() == "UTF8"
    # a goal of a pair that does not exist
    with pytest.raises(IntegrityError), db.engine.begin() as conn:
        conn.execute(text("INSERT INTO goals (pair_id, text, status, updated_at) "
                          "VALUES (999, 'orphan', 'open', '2026-01-01')"))
    db.migrate()  # idempotent
    assert current_revision(db.engine) == head_revision()


def test_nobody_mentors_themselves(fake_container, programme):
    _, p = programme
    with pytest.raises(RuleViolation, match="cannot mentor themselves"):
        fake_container.store.add_pair(p["mia"].id, p["mia"].id, ["technology"])


def test_database_also_refuses_self_pairing(fake_container, programme):
    prog, p = programme
    insert = text("INSERT INTO pairs (programme_id, mentor_id, mentee_id, focus, cadence_days,"
                  " starts_on, status, created_at) VALUES (:g, :m, :e, '[]', 14, '2026-01-01',"
                  " 'active', '2026-01-01')")
    with pytest.raises(IntegrityError, match="ck_pair_not_self"), \
            fake_container.db.engine.begin() as conn:
        conn.execute(insert, {"g": prog.id, "m": p["mia"].id, "e": p["mia"].id})
    with fake_container.db.engine.begin() as conn:  # the same row with two people is fine
        conn.execute(insert, {"g": prog.id, "m": p["mia"].id, "e": p["sam"].id})
    assert fake_container.store.counts()["pairs"] == 1


def test_mentor_may_not_be_the_mentees_direct_report(fake_container, programme):
    _, p = programme
    fake_container.store.set_manager(p["mia"].id, p["sam"].id)
    with pytest.raises(RuleViolation, match="direct report"):
        fake_container.store.add_pair(p["mia"].id, p["sam"].id, ["technology"])
    # The other way round (the mentee reporting to someone else) is fine.
    assert fake_container.store.add_pair(p["raj"].id, p["sam"].id, ["technology"]).pair.id


def test_same_department_is_allowed_with_a_warning(fake_container, programme):
    store = fake_container.store
    _, p = programme
    boss = store.add_person("Dana Data", "dana@example.org", "mentee", department="data")
    created = store.add_pair(p["mia"].id, boss.id, ["inclusion"])
    assert created.pair.id
    assert len(created.warnings) == 1 and "Data" in created.warnings[0]
    assert store.add_pair(p["raj"].id, p["sam"].id, ["inclusion"]).warnings == []


def test_roles_must_fit_the_pair(fake_container, programme):
    _, p = programme
    with pytest.raises(InvalidInput, match="needs role mentor"):
        fake_container.store.add_pair(p["cora"].id, p["sam"].id, ["technology"])
    with pytest.raises(InvalidInput, match="needs role mentee"):
        fake_container.store.add_pair(p["mia"].id, p["raj"].id, ["technology"])


def test_pair_inputs_are_validated(fake_container, programme):
    store = fake_container.store
    _, p = programme
    with pytest.raises(InvalidInput, match="Unknown focus"):
        store.add_pair(p["mia"].id, p["sam"].id, ["cooking"])
    with pytest.raises(InvalidInput, match="at least one focus"):
        store.add_pair(p["mia"].id, p["sam"].id, [])
    with pytest.raises(InvalidInput, match="not a valid date"):
        store.add_pair(p["mia"].id, p["sam"].id, ["technology"], starts_on="2026-02-30")
    with pytest.raises(InvalidInput, match="ends before it starts"):
        store.add_pair(p["mia"].id, p["sam"].id, ["technology"], starts_on="2026-03-01",
                       ends_on="2026-02-01")
    with pytest.raises(NotFound, match="No person"):
        store.add_pair("nobody@example.org", p["sam"].id, ["technology"])
    with pytest.raises(InvalidInput, match="goal is empty"):
        store.add_pair(p["mia"].id, p["sam"].id, ["technology"], goals=["   "])
    assert store.counts()["pairs"] == 0, "nothing half-written"


def test_duplicate_active_pair_and_duplicate_email_conflict(fake_container, programme):
    store = fake_container.store
    _, p = programme
    store.add_pair(p["mia"].id, p["sam"].id, ["technology"])
    with pytest.raises(Conflict):
        store.add_pair(p["mia"].id, p["sam"].id, ["generational"])
    with pytest.raises(Conflict):
        store.add_person("Mia Again", "MIA@example.org", "mentor")


def test_a_closed_pair_reopens_only_when_no_other_pair_is_open(fake_container, programme):
    store = fake_container.store
    _, p = programme
    first = store.add_pair(p["mia"].id, p["sam"].id, ["technology"]).pair
    store.set_pair_status(first.id, "closed")
    second = store.add_pair(p["mia"].id, p["sam"].id, ["inclusion"]).pair  # a new round is fine
    with pytest.raises(Conflict, match=f"Pair {first.id} cannot be reopened.*Close that one"):
        store.set_pair_status(first.id, "active")
    assert store.get_pair(first.id).status == "closed", "the refused change left nothing behind"
    store.set_pair_status(second.id, "closed")
    assert store.set_pair_status(first.id, "paused").status == "paused"


def test_the_database_itself_keeps_one_open_pair_per_mentor_and_mentee(fake_container, programme):
    """The application's check can be raced; the partial unique index cannot."""
    store = fake_container.store
    _, p = programme
    pair = store.add_pair(p["mia"].id, p["sam"].id, ["technology"]).pair
    insert = text("INSERT INTO pairs (programme_id, mentor_id, mentee_id, focus, cadence_days, "
                  "starts_on, status, created_at) VALUES (:g, :m, :e, '[]', 14, '2026-01-01', "
                  ":s, CURRENT_TIMESTAMP)")
    values = {"g": pair.programme_id, "m": p["mia"].id, "e": p["sam"].id}
    with (pytest.raises(IntegrityError, match="uq_pairs_open|UNIQUE constraint failed"),
          fake_container.db.engine.begin() as conn):
        conn.execute(insert, {**values, "s": "paused"})
    with fake_container.db.engine.begin() as conn:  # closed pairs of the same two are history
        conn.execute(insert, {**values, "s": "closed"})
        conn.execute(insert, {**values, "s": "closed"})
    assert len(store.list_pairs(person_id=p["mia"].id)) == 3


def test_migration_0004_names_duplicate_open_pairs_instead_of_picking_one(tmp_path, backend,
                                                                           fresh_database_url):
    from coach.store.db import Database, downgrade, migrate
    from coach.store.repository import Store

    db = Database(fresh_database_url() or f"sqlite:///{tmp_path / 'dup.db'}")
    try:
        migrate(db.engine, "0003")
        store = Store(db)
        store.create_programme("Pilot")
        mia = store.add_person("Mia Chen", "mia@example.org", "mentor")
        sam = store.add_person("Sam Okoro", "sam@example.org", "mentee")
        store.add_pair(mia.id, sam.id, ["technology"])
        with db.engine.begin() as conn:  # what a race before 0004 could leave behind
            conn.execute(text("INSERT INTO pairs (programme_id, mentor_id, mentee_id, focus, "
                              "cadence_days, starts_on, status, created_at) SELECT programme_id, "
                              "mentor_id, mentee_id, focus, cadence_days, starts_on, 'paused', "
                              "created_at FROM pairs"))
        with pytest.raises(RuntimeError, match=f"mentor {mia.id} with mentee {sam.id} "
                                               r"\(2 open pairs\).*coach pairs status"):
            migrate(db.engine)
        assert current_revision(db.engine) == "0003"
        assert len(store.list_pairs()) == 2, "nothing was deleted"
        store.set_pair_status(2, "closed")
        migrate(db.engine)
        assert current_revision(db.engine) == head_revision()
        downgrade(db.engine, "0003")
        assert current_revision(db.engine) == "0003"
    finally:
        db.dispose()


def test_pair_history_round_trip(fake_container, programme):
    store = fake_container.store
    _, p = programme
    pair = store.add_pair(p["mia"].id, p["sam"].id, ["technology", "inclusion"],
                          goals=["Use AI tools for drafting"], starts_on="2026-01-05").pair
    assert pair.cadence_days == 14 and pair.focus == ("technology", "inclusion")
    held = store.log_session(pair.id, "2026-01-10", "held", today=dt.date(2026, 2, 1))
    assert held.minutes == 45
    store.log_session(pair.id, "2026-01-24", "cancelled", today=dt.date(2026, 2, 1))
    reflection = store.add_reflection(pair.id, held.id, p["sam"].id, "We tried a chatbot.")
    assert reflection.author_role == "mentee" and reflection.private
    item = store.add_action_item(pair.id, "Try the meeting assistant", "mentee", due="2026-01-20")
    store.set_action_done(pair.id, item.id, True, today=dt.date(2026, 1, 19))
    goal = store.update_goal(pair.id, pair.goals[0].id, status="in_progress")
    assert goal.status == "in_progress"
    loaded = store.get_pair(pair.id)
    assert [s.status for s in loaded.sessions] == ["held", "cancelled"]
    assert loaded.action_items[0].done and loaded.action_items[0].done_at == dt.date(2026, 1, 19)
    assert loaded.reflections[0].text == "We tried a chatbot."


def test_session_rules(fake_container, programme):
    store = fake_container.store
    _, p = programme
    pair = store.add_pair(p["mia"].id, p["sam"].id, ["technology"]).pair
    with pytest.raises(InvalidInput, match="in the future"):
        store.log_session(pair.id, "2026-05-01", "held", today=dt.date(2026, 4, 1))
    with pytest.raises(InvalidInput, match="Unknown session status"):
        store.log_session(pair.id, "2026-03-01", "done")
    with pytest.raises(InvalidInput, match="between 5 and 480"):
        store.log_session(pair.id, "2026-03-01", "held", minutes=-5)
    with pytest.raises(NotFound, match="No pair 999"):
        store.log_session(999, "2026-03-01", "held")
    scheduled = store.log_session(pair.id, "2026-05-01", "scheduled", today=dt.date(2026, 4, 1))
    assert store.next_session(pair.id, today=dt.date(2026, 4, 1)).id == scheduled.id


def test_reflections_only_from_the_pair_and_bounded(fake_container, programme):
    store = fake_container.store
    _, p = programme
    pair = store.add_pair(p["mia"].id, p["sam"].id, ["technology"]).pair
    session = store.log_session(pair.id, "2026-01-10", "held", today=dt.date(2026, 2, 1))
    with pytest.raises(RuleViolation, match="not in pair"):
        store.add_reflection(pair.id, session.id, p["eve"].id, "Not mine")
    with pytest.raises(InvalidInput, match="empty"):
        store.add_reflection(pair.id, session.id, p["sam"].id, " \n\t ")
    with pytest.raises(InvalidInput, match="limit is 20,000"):
        store.add_reflection(pair.id, session.id, p["sam"].id, "x" * 20_001)
    assert store.counts()["reflections"] == 0


def test_the_schema_the_migrations_build_matches_the_models(fake_container):
    """Autogenerate finds nothing to do: models and migrations agree on this backend."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from coach.store.models import Base

    with fake_container.db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_health_facts_come_in_a_stable_order(fake_container, programme):
    """Reflections of one session date reach the health rules in the order they were written,
    even after a summary is rewritten (PostgreSQL moves an updated row in its table)."""
    from coach.store.health_queries import load_health_inputs

    store = fake_container.store
    _, p = programme
    pair = store.add_pair(p["mia"].id, p["sam"].id, ["technology"], starts_on="2026-01-05").pair
    held = store.log_session(pair.id, "2026-01-10", "held", today=dt.date(2026, 2, 1))
    first = store.add_reflection(pair.id, held.id, p["sam"].id, "One.", visibility="pair", summary={
        "summary": "One", "sentiment": "positive", "engagement": "high", "blockers": []})
    store.add_reflection(pair.id, held.id, p["mia"].id, "Two.", visibility="pair", summary={
        "summary": "Two", "sentiment": "negative", "engagement": "low", "blockers": []})
    items = [store.add_action_item(pair.id, f"Item {i}", "mentee", due="2026-01-20")
             for i in range(3)]
    store.set_reflection_summary(first.id, {"summary": "One again", "sentiment": "neutral",
                                            "engagement": "medium", "blockers": ["x"]})
    store.set_action_done(pair.id, items[0].id, True, today=dt.date(2026, 1, 19))
    (facts,) = load_health_inputs(fake_container.db, pair_ids=[pair.id])
    assert [(r.author_role, r.sentiment, r.blockers) for r in facts.reflections] == \
        [("mentee", "neutral", 1), ("mentor", "negative", 0)]
    assert [a.done for a in facts.action_items] == [True, False, False]


def test_a_document_with_a_very_long_title_is_ingested(fake_container, tmp_path):
    """PostgreSQL enforces VARCHAR lengths (SQLite does not): a 600-character heading is kept
    to the manifest's 500 characters on both."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "long.md").write_text("# " + "Ground rules " * 50 + "\n\nAgree how often you meet, "
                                  "where, and what stays between the two of you.\n")
    report = fake_container.ingestor.ingest([docs])
    assert report.skipped == [] and report.chunks_added >= 1
    (entry,) = fake_container.manifest.all().values()
    assert entry.title.startswith("Ground rules") and len(entry.title) == 500
