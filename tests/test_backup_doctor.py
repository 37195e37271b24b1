"""Backups round-trip a whole programme; the doctor finds and repairs drift."""

import json

import pytest

from coach import cli
from coach.adapters.fakes import HashingEmbedder, InMemoryIndex
from coach.container import Container
from coach.domain.errors import Conflict, InvalidInput
from coach.operations.demo import load_demo, summariser_for
from coach.operations.doctor import run_doctor
from coach.ports import MetadataFilter
from coach.store.dump import export_store, import_store
from tests.conftest import make_settings


def demo_world(tmp_path, name="a", database_url=None):
    embedder = HashingEmbedder()
    c = Container(make_settings(tmp_path / name, database_url=database_url), embedder=embedder,
                  index=InMemoryIndex(embedder))
    c.db.migrate()
    c.ingestor.ingest([c.settings.knowledge_dir])
    load_demo(c.store, c.writes, summarise=summariser_for(c.store, c.features("none")))
    pair = c.store.list_pairs()[0]
    list(c.features("none").chat(pair.id, pair.mentor.id, "How do we agree ground rules?"))
    c.monitor.overview(weeks=2)
    return c


@pytest.fixture
def worlds():
    made = []
    yield made
    for c in made:
        c.close()


def test_export_import_round_trip_loses_nothing(tmp_path, capsys, fresh_database_url, worlds):
    source = demo_world(tmp_path, database_url=fresh_database_url())
    worlds.append(source)
    before = export_store(source.db)
    path = tmp_path / "backup.json"
    cli.set_container(source)
    try:
        assert cli.run(["export", str(path)]) == 0
    finally:
        cli.set_container(None)
    target = Container(make_settings(tmp_path / "b", database_url=fresh_database_url()),
                       embedder=HashingEmbedder(), index=InMemoryIndex())
    worlds.append(target)
    cli.set_container(target)
    try:
        assert cli.run(["import", str(path), "--json"]) == 0
    finally:
        cli.set_container(None)
    after = export_store(target.db)
    for table, rows in before["tables"].items():
        assert after["tables"][table] == rows, f"{table} changed in the round trip"
    assert before["tables"]["chat_messages"] and before["tables"]["reflections"]
    assert any(r["visibility"] == "private" for r in before["tables"]["reflections"])
    # the index is rebuilt: pair records are searchable again
    pid = before["tables"]["pairs"][0]["id"]
    assert target.index.get(MetadataFilter.of(scope=[f"pair:{pid}"]))
    assert run_doctor(target).findings == []
    # and new rows do not collide with imported ids
    created = target.store.add_person("New", "new@example.org", "mentor")
    assert created.id > max(p["id"] for p in before["tables"]["people"])


def test_import_refuses_a_non_empty_store_and_bad_files(tmp_path, fresh_database_url, worlds):
    source = demo_world(tmp_path, database_url=fresh_database_url())
    worlds.append(source)
    data = export_store(source.db)
    with pytest.raises(Conflict, match="not empty"):
        import_store(source.db, data)
    with pytest.raises(InvalidInput, match="not a coach export"):
        import_store(source.db, {"tables": {}})
    # an export from before the one-open-pair rule, holding a raced duplicate: refused whole
    pairs = data["tables"]["pairs"]
    twin = {**next(p for p in pairs if p["status"] != "closed"), "id": max(p["id"] for p in pairs) + 1}
    empty = Container(make_settings(tmp_path / "empty", database_url=fresh_database_url()),
                      embedder=HashingEmbedder(), index=InMemoryIndex())
    worlds.append(empty)
    empty.db.migrate()
    with pytest.raises(InvalidInput, match="export's pairs break a rule of this store.*Nothing was"):
        import_store(empty.db, {**data, "tables": {**data["tables"], "pairs": [*pairs, twin]}})
    assert empty.store.counts()["pairs"] == 0 and not empty.store.list_people()
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    from coach.operations.backup import read_export

    with pytest.raises(InvalidInput, match="not a JSON export"):
        read_export(bad)


def test_doctor_finds_and_repairs_drift(tmp_path, fresh_database_url, worlds):
    c = demo_world(tmp_path, database_url=fresh_database_url())
    worlds.append(c)
    assert run_doctor(c).findings == []
    pair = c.store.list_pairs()[0]
    # drift 1: a file's chunks half gone (a crash mid-ingest)
    source = "knowledge/coordinator-guide.md"
    victims = c.index.get(MetadataFilter.of(source=[source]))[:3]
    c.index.delete(ids=[v.id for v in victims])
    # drift 2: chunks of a file the manifest does not know
    from coach.ports import Chunk

    c.index.upsert([Chunk("orphan-1", "orphan text", {"source": "/tmp/gone.md", "scope": "global",
                                                       "kind": "guideline", "focus": "general"})])
    # drift 3: chunks of a deleted pair, and a pair out of step
    c.index.upsert([Chunk("pair:999-x-y", "ghost", {"source": "pair:999/goals", "scope": "pair:999",
                                                     "kind": "pair_goals", "focus": "general"})])
    c.store.add_goal(pair.id, "A goal added behind the index's back")
    # drift 4: a reflection saved without its summary
    session = next(s for s in pair.sessions if s.status == "held")
    c.store.add_reflection(pair.id, session.id, pair.mentee.id,
                           "We met and it went fine. I will read the guide.")
    report = run_doctor(c)
    checks = {f.check for f in report.findings}
    assert {"index", "pairs", "reflections"} <= checks and not report.ok
    repaired = run_doctor(c, repair=True)
    assert repaired.ok
    assert run_doctor(c).findings == []
    ids = [ch.id for ch in c.index.get()]
    assert len(ids) == len(set(ids))


def test_a_sqlite_backup_moves_to_postgresql_and_back(tmp_path, postgres_cluster, worlds):
    """The way off SQLite: export it, import into PostgreSQL, and the rows are the same."""
    source = demo_world(tmp_path)
    worlds.append(source)
    assert source.db.engine.dialect.name == "sqlite"
    before = export_store(source.db)

    def empty(name, url=None):
        c = Container(make_settings(tmp_path / name, database_url=url),
                      embedder=HashingEmbedder(), index=InMemoryIndex())
        worlds.append(c)
        c.db.migrate()
        return c

    pg = empty("pg", postgres_cluster.database())
    assert pg.db.engine.dialect.name == "postgresql"
    import_store(pg.db, json.loads(json.dumps(before)))
    on_pg = export_store(pg.db)
    assert on_pg["tables"] == before["tables"]
    # PostgreSQL's sequences were moved past the imported ids
    assert pg.store.add_person("New", "new@example.org", "mentor").id > \
        max(p["id"] for p in before["tables"]["people"])
    back = empty("back")
    import_store(back.db, json.loads(json.dumps(export_store(pg.db))))
    assert export_store(back.db)["tables"] == export_store(pg.db)["tables"]
