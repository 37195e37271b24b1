import json

import pytest

from coach import cli
from coach.ports import MetadataFilter


def test_init_demo_then_pairs_and_search(run, fake_container):
    code, out, _ = run("init", "--demo", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["ingest"]["chunks_added"] > 100 and report["ingest"]["skipped"] == []
    assert report["demo"]["pairs"] >= 8
    code, out, _ = run("pairs", "list", "--json")
    pairs = json.loads(out)
    assert len(pairs) >= 8
    assert {f for p in pairs for f in p["focus"]} == {"technology", "generational", "inclusion"}
    code, out, _ = run("pairs", "show", str(pairs[0]["id"]), "--json")
    shown = json.loads(out)
    assert shown["goals"] and shown["sessions"]
    assert "text" not in json.dumps(shown["sessions"])  # no reflection text in pair output
    code, out, _ = run("search", "how to end a pairing well", "-k", "3", "--json")
    hits = json.loads(out)
    assert code == 0 and len(hits) == 3
    assert set(hits[0]) == {"text", "source", "heading", "score"}
    # init again is idempotent: nothing re-added, demo not loaded twice
    code, out, _ = run("init", "--demo", "--json")
    again = json.loads(out)
    assert again["ingest"]["chunks_added"] == 0 and again["demo"]["status"] == "already loaded"
    # every pair has its goals indexed under its own scope
    for p in pairs:
        assert fake_container.index.get(MetadataFilter.of(scope=[f"pair:{p['id']}"]))


def test_users_pairs_sessions_commands(run):
    assert run("init", "--json")[0] == 0
    code, out, _ = run("users", "add", "Ana Lima", "--email", "ana@example.org", "--role", "mentor",
                       "--department", "IT", "--json")
    assert code == 0 and json.loads(out)["id"] == 1
    run("users", "add", "Bo Berg", "--email", "bo@example.org", "--role", "mentee",
        "--department", "IT")
    code, out, err = run("pairs", "add", "--mentor", "ana@example.org", "--mentee", "2",
                         "--focus", "technology", "--goal", "Use AI for drafting", "--json")
    assert code == 0
    created = json.loads(out)
    assert created["warnings"] and "IT" in created["warnings"][0]
    code, out, _ = run("sessions", "log", str(created["id"]), "--date", "2026-01-05", "--json")
    assert code == 0 and json.loads(out)["status"] == "held"
    code, out, _ = run("pairs", "status", str(created["id"]), "paused")
    assert code == 0 and "is now paused" in out
    code, out, _ = run("pairs", "status", str(created["id"]), "closed", "--json")
    assert code == 0 and json.loads(out) == {"id": created["id"], "status": "closed"}
    code, _, err = run("pairs", "status", str(created["id"]), "finished")
    assert code != 0 and "pair status" in err


@pytest.mark.parametrize("args, message", [
    (("pairs", "show", "999"), "No pair 999"),
    (("pairs", "add", "--mentor", "1", "--mentee", "1", "--focus", "technology"), "themselves"),
    (("pairs", "add", "--mentor", "1", "--mentee", "2", "--focus", "cooking"), "Unknown focus"),
    (("sessions", "log", "1", "--date", "2026-02-30"), "not a valid date"),
    (("search", "x", "--focus", "astrology"), "Unknown focus"),
    (("ingest", "/no/such/file.md"), "No such file"),
    (("users", "add", "X", "--email", "not-an-email", "--role", "mentor"), "not an email"),
])
def test_bad_input_is_one_line_and_non_zero(run, args, message):
    run("init")
    run("users", "add", "Ana", "--email", "ana@example.org", "--role", "mentor")
    run("users", "add", "Bo", "--email", "bo@example.org", "--role", "mentee")
    code, out, err = run(*args)
    assert code != 0
    assert message in err and err.startswith("error: ") and err.count("\n") <= 2


def test_commands_before_init_say_what_to_do(fake_container, capsys):
    from coach.adapters.fakes import HashingEmbedder, InMemoryIndex
    from coach.container import Container

    fresh = Container(fake_container.settings.model_copy(
        update={"data_dir": fake_container.settings.data_dir / "other"}),
        embedder=HashingEmbedder(), index=InMemoryIndex())
    cli.set_container(fresh)
    try:
        assert cli.run(["pairs", "list"]) == 1
        assert "coach init" in capsys.readouterr().err
    finally:
        cli.set_container(None)
