import datetime as dt

import pytest
from sqlalchemy import text

from coach.errors import Conflict, InvalidInput, NotFound, RuleViolation
from coach.store.db import current_revision, head_revision


def test_migrations_reach_head_and_sqlite_runs_wal_with_foreign_keys(fake_container):
    db = fake_container.db
    assert current_revision(db.engine) == head_revision()
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    db.migrate()  # idempotent
    assert current_revision(db.engine) == head_revision()


def test_nobody_mentors_themselves(fake_container, programme):
    _, p = programme
    with pytest.raises(RuleViolation, match="cannot mentor themselves"):
        fake_container.store.add_pair(p["mia"].id, p["mia"].id, ["technology"])


def test_database_also_refuses_self_pairing(fake_container, programme):
    prog, p = programme
    with pytest.raises(Exception):
        with fake_container.db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO pairs (programme_id, mentor_id, mentee_id, focus, cadence_days,"
                " starts_on, status, created_at) VALUES (:g, :m, :m, '[]', 14, '2026-01-01',"
                " 'active', '2026-01-01')"), {"g": prog.id, "m": p["mia"].id})


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


def test_pair_history_round_trip(fake_container, programme):
    store = fake_container.store
    _, p = programme
    pair = store.add_pair(p["mia"].id, p["sam"].id, ["technology", "inclusion"],
                          goals=["Use AI tools for drafting"], starts_on="2026-01-05").pair
    assert pair.cadence_days == 14 and pair.focus == ("technology", "inclusion")
    held = store.log_session(pair.id, "2026-01-10", "held", today=dt.date(2026, 2, 1))
    assert held.minutes == 45
    store.log_session(pair.id, "2026-01-24", "cancelled", today=dt.date(2026, 2, 1))
    reflection = store.add_reflection(pair.id, held.id, p["sam"].id, "We tried a chatbot.",
                                      private=True)
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
