"""The bad-input table: each input gets a clear 4xx (or CLI message) and nothing half-stored;
HTML and script come back escaped on every page."""

import re

import pytest
from fastapi.testclient import TestClient

from tests.api_world import build_world

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def world(tmp_path):
    return build_world(tmp_path)


def counts(world):
    return world.container.store.counts()


P = "/api/v1/pairs/{pair}"
BAD = [
    ("mentee", "POST", P + "/reflections", {"text": ""}, 422),
    ("mentee", "POST", P + "/reflections", {"text": "   \n\t  "}, 422),
    ("mentee", "POST", P + "/reflections", {"text": "x" * 1_000_000}, 413),
    ("mentee", "POST", P + "/reflections", {"text": "ok text here", "session_id": 99999999}, 404),
    ("mentor", "POST", P + "/chat", {"message": "  "}, 422),
    ("mentor", "POST", P + "/goals", {"text": "   "}, 422),
    ("mentor", "POST", P + "/action-items", {"text": "", "owner": "mentor"}, 422),
    ("mentor", "POST", P + "/action-items", {"text": "ok", "owner": "boss"}, 422),
    ("mentor", "GET", P + "/topics?k=1000000", None, 422),
    ("mentor", "GET", P + "/topics?k=-1", None, 422),
    ("mentor", "POST", P + "/agenda", {"minutes": -45}, 422),
    ("mentor", "POST", P + "/agenda", {"minutes": 100000}, 422),
    ("mentor", "POST", P + "/agenda", {"minutes": 45, "lead": "no-such-topic"}, 422),
    ("mentor", "POST", P + "/agenda", {"minutes": 45, "lead": ""}, 422),
    ("mentor", "POST", P + "/sessions", {"date": "2026-02-30", "status": "held"}, 422),
    ("mentor", "POST", P + "/sessions", {"date": "2026-01-05", "status": "held", "minutes": -1}, 422),
    ("mentor", "POST", P + "/sessions", {"date": "2999-01-01", "status": "held"}, 422),
    ("coordinator", "GET", "/api/v1/health?as_of=2026-13-01", None, 422),
    ("mentor", "GET", "/api/v1/pairs/99999999", None, 404),
    ("mentor", "GET", "/api/v1/pairs/9999999999999999999999", None, 422),
    ("mentor", "PATCH", P + "/goals/99999", {"status": "achieved"}, 404),
    ("admin", "POST", "/api/v1/pairs", {"mentor": "nobody@example.org", "mentee": 4,
                                         "focus": ["technology"]}, 404),
    ("admin", "POST", "/api/v1/pairs", {"mentor": 3, "mentee": 3, "focus": ["technology"]}, 422),
    ("admin", "POST", "/api/v1/people", {"name": "X", "email": "not-an-email", "role": "mentor"}, 422),
]


@pytest.mark.parametrize("role, method, path, body, expected", BAD,
                         ids=[f"{b[1]} {b[2]} {str(b[3])[:30]}" for b in BAD])
def test_bad_input_gets_a_clear_4xx_and_stores_nothing(world, role, method, path, body, expected):
    before = counts(world)
    response = world.client.request(method, path.format(**world.ids), json=body,
                                    headers=world.headers(role))
    assert response.status_code == expected, response.text[:300]
    assert response.json()["error"]["message"]
    assert counts(world) == before


def test_invalid_utf8_and_binary_are_refused(world):
    h = {**world.headers("mentee"), "Content-Type": "application/json"}
    r = world.client.post(f"/api/v1/pairs/{world.ids['pair']}/reflections",
                          content=b'{"text": "caf\xe9 \xff\xfe"}', headers=h)
    assert r.status_code in (400, 422) and r.json()["error"]["code"] in ("bad_request", "invalid_input")
    admin = world.headers("admin")
    # refused at once: what the request alone shows (the type, an empty body)
    for name, data, status in [("photo.png", b"\x89PNG\r\n\x1a\n", 415), ("empty.md", b"", 422)]:
        r = world.client.post("/api/v1/knowledge/documents", files={"file": (name, data)},
                              headers=admin)
        assert r.status_code == status, (name, r.text)
    # refused by the ingestion job, with the reason on the job
    uploads = [("notes.txt", b"caf\xe9 cr\xe8me", "UTF-8"),
               ("broken.pdf", b"%PDF-1.4 \x00\x01 garbage", "not a readable PDF"),
               ("evil.docx", bytes(range(256)) * 10, "not a readable .docx")]
    before = len(world.container.manifest.all())
    jobs = {}
    for name, data, _reason in uploads:
        r = world.client.post("/api/v1/knowledge/documents", files={"file": (name, data)},
                              headers=admin)
        assert r.status_code == 202, (name, r.text)
        jobs[name] = r.json()["id"]
    world.run_jobs()
    for name, _data, reason in uploads:
        job = world.client.get(f"/api/v1/knowledge/jobs/{jobs[name]}", headers=admin).json()
        assert job["status"] == "failed" and reason in job["error"], job
        assert job["error"].startswith(f"uploads/{name}: ") and "\n" not in job["error"]
    assert len(world.container.manifest.all()) == before
    uploads_dir = world.container.settings.uploads_dir
    assert not uploads_dir.exists() or not [p for p in uploads_dir.rglob("*") if p.is_file()]


def test_sql_looking_strings_are_just_text(world):
    evil = "Robert'); DROP TABLE pairs; --"
    r = world.client.post(f"/api/v1/pairs/{world.ids['pair']}/goals", json={"text": evil},
                          headers=world.headers("mentor"))
    assert r.status_code == 201 and r.json()["text"] == evil
    r = world.client.get(f"/api/v1/pairs/{world.ids['pair']}", headers=world.headers("mentor"))
    assert evil in [g["text"] for g in r.json()["goals"]]
    assert world.client.get("/api/v1/people?role=mentor' OR '1'='1",
                            headers=world.headers("admin")).status_code == 422


def test_html_and_script_are_escaped_on_every_page(world):
    c = world.container
    s = c.store
    ids = world.ids
    mentor = s.add_person(XSS + "Mentor", "xss-mentor@example.org", "mentor", department=XSS)
    mentee = s.add_person(XSS + "Mentee", "xss-mentee@example.org", "mentee", department="Ops")
    pair = c.writes.add_pair(mentor.id, mentee.id, ["technology"], goals=[XSS + " goal"]).pair
    s.log_session(pair.id, "2026-01-05", "held", notes=XSS)
    s.add_action_item(pair.id, XSS + " action", "mentee")
    from coach.store.credentials import TokenService

    tokens = TokenService(c.db)
    h_mentor = {"Authorization": f"Bearer {tokens.issue_personal(mentor.id).token}"}
    h_mentee = {"Authorization": f"Bearer {tokens.issue_personal(mentee.id).token}"}
    world.client.post(f"/api/v1/pairs/{pair.id}/reflections", headers=h_mentee,
                      json={"text": f"We learned a lot. {XSS} I will try the tool."})
    world.client.post(f"/api/v1/pairs/{pair.id}/chat", headers=h_mentor,
                      json={"message": f"How do we agree ground rules? {XSS}"})
    upload = f"# {XSS}\n\n## Section\n\nSome text about confidentiality {XSS}.\n".encode()
    assert world.client.post("/api/v1/knowledge/documents", files={"file": ("x.md", upload)},
                             headers=world.headers("admin")).status_code == 202
    world.run_jobs()
    client = TestClient(world.client.app)
    pages = [
        (h_mentor, f"/pairs/{pair.id}"), (h_mentor, f"/pairs/{pair.id}/prep"),
        (h_mentee, f"/pairs/{pair.id}/reflect"), (h_mentor, "/pairs"),
        (world.headers("coordinator"), "/dashboard"), (world.headers("admin"), "/knowledge"),
        (world.headers("coordinator"), f"/pairs/{pair.id}"),
    ]
    for headers, url in pages:
        html = client.get(url, headers=headers).text
        assert "<script>alert" not in html, url
        assert "<img src=x" not in html, url
        assert re.search(r"&lt;script&gt;|&lt;img", html), f"{url} did not show the text escaped"
    csv = client.get("/dashboard.csv", headers=world.headers("coordinator"))
    assert csv.headers["content-type"].startswith("text/csv")
    assert ids  # the world is intact


def test_cli_bad_input(fake_container, capsys):
    import io
    import sys

    from coach import cli

    cli.set_container(fake_container)
    try:
        cli.run(["init"])
        cli.run(["users", "add", "Ana", "--email", "ana@example.org", "--role", "mentor"])
        cli.run(["users", "add", "Bo", "--email", "bo@example.org", "--role", "mentee"])
        cli.run(["pairs", "add", "--mentor", "1", "--mentee", "2", "--focus", "technology"])
        cli.run(["sessions", "log", "1", "--date", "2026-01-05"])
        capsys.readouterr()
        old = sys.stdin
        sys.stdin = io.StringIO("   \n")
        try:
            assert cli.run(["reflect", "1", "--file", "-", "--backend", "none"]) == 1
        finally:
            sys.stdin = old
        assert "empty" in capsys.readouterr().err
        assert cli.run(["agenda", "1", "--minutes", "-5", "--backend", "none"]) == 1
        assert "between 15 and 120" in capsys.readouterr().err
        assert cli.run(["agenda", "1", "--lead", "no-such-topic", "--backend", "none"]) == 1
        err = capsys.readouterr().err
        assert "Cannot lead the session with 'no-such-topic'" in err and len(err.splitlines()) == 1
        assert cli.run(["topics", "1", "-k", "5000", "--backend", "none"]) == 1
        assert "between 1 and 10" in capsys.readouterr().err
        assert cli.run(["reflect", "1", "--file", "/no/such.txt"]) == 1
        assert "No such file" in capsys.readouterr().err
        assert cli.run(["health", "--as-of", "yesterday"]) == 1
        assert "not a valid date" in capsys.readouterr().err
        assert fake_container.store.counts()["reflections"] == 0
    finally:
        cli.set_container(None)
