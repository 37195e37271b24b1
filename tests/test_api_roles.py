"""The role matrix: every API route times every role, including another pair's resources."""

import datetime as dt
import itertools
import json
import re

import pytest

from tests.api_world import build_world

ROLES = ("admin", "coordinator", "mentor", "mentee", "other_mentor", None)
YESTERDAY = (dt.date.today() - dt.timedelta(days=1)).isoformat()
_emails = itertools.count(1)

# (method, path template, body, {role: expected status}); None = anonymous.
OWN = {"admin": 200, "coordinator": 200, "mentor": 200, "mentee": 200, "other_mentor": 404, None: 401}
MEMBERS = {"admin": 200, "coordinator": 403, "mentor": 200, "mentee": 200, "other_mentor": 404, None: 401}
MEMBERS_CREATE = {k: (201 if v == 200 else v) for k, v in MEMBERS.items()}
ONLY_PAIR = {"admin": 403, "coordinator": 403, "mentor": 200, "mentee": 200, "other_mentor": 404,
             None: 401}
PROGRAMME = {"admin": 200, "coordinator": 200, "mentor": 403, "mentee": 403, "other_mentor": 403,
             None: 401}
ADMIN_ONLY = {"admin": 200, "coordinator": 403, "mentor": 403, "mentee": 403, "other_mentor": 403,
              None: 401}
ANYONE = {"admin": 200, "coordinator": 200, "mentor": 200, "mentee": 200, "other_mentor": 200,
          None: 401}
PAIR_ONLY = {"admin": 403, "coordinator": 403, "mentor": 200, "mentee": 200, "other_mentor": 404,
             None: 401}
# A person's own credentials, managed by them and by admins (the mentor's, here).
OWNER_OR_ADMIN = {"admin": 200, "coordinator": 403, "mentor": 200, "mentee": 404,
                  "other_mentor": 404, None: 401}
OWNER_OR_ADMIN_204 = {k: (204 if v == 200 else v) for k, v in OWNER_OR_ADMIN.items()}
NOBODY_BUT_THE_AUTHOR = {"admin": 404, "coordinator": 404, "mentor": 404, "mentee": 204,
                         "other_mentor": 404, None: 401}

MATRIX = [
    ("GET", "/api/v1/me", None, ANYONE),
    ("GET", "/api/v1/people", None, PROGRAMME),
    ("POST", "/api/v1/people", "person", {**ADMIN_ONLY, "admin": 201}),
    ("GET", "/api/v1/people/{person_mentor}", None,
     {**OWN, "other_mentor": 404, "mentee": 404}),
    ("POST", "/api/v1/people/{person_mentor}/tokens", None,
     {"admin": 201, "coordinator": 404, "mentor": 201, "mentee": 404, "other_mentor": 404, None: 401}),
    ("GET", "/api/v1/programmes", None, ANYONE),
    ("GET", "/api/v1/programmes/1", None, ANYONE),
    ("PUT", "/api/v1/programmes/1/thresholds", {"health_thresholds": {"gap_warn_ratio": 1.5}},
     ADMIN_ONLY),
    ("GET", "/api/v1/pairs", None, ANYONE),
    ("POST", "/api/v1/pairs", "pair", {**ADMIN_ONLY, "admin": 201}),
    ("GET", "/api/v1/pairs/{pair}", None, OWN),
    ("PATCH", "/api/v1/pairs/{pair}", {"status": "active"}, ADMIN_ONLY),
    ("POST", "/api/v1/pairs/{pair}/goals", {"text": "Try passkeys"}, MEMBERS_CREATE),
    ("PATCH", "/api/v1/pairs/{pair}/goals/{goal}", {"status": "in_progress"}, MEMBERS),
    ("GET", "/api/v1/pairs/{pair}/sessions", None, OWN),
    ("POST", "/api/v1/pairs/{pair}/sessions", {"date": YESTERDAY, "status": "held"}, MEMBERS_CREATE),
    ("PATCH", "/api/v1/pairs/{pair}/sessions/{session}", {"minutes": 50}, MEMBERS),
    ("GET", "/api/v1/pairs/{pair}/action-items", None, OWN),
    ("POST", "/api/v1/pairs/{pair}/action-items", {"text": "Read the guide", "owner": "mentor"},
     MEMBERS_CREATE),
    ("PATCH", "/api/v1/pairs/{pair}/action-items/{item}", {"done": True}, MEMBERS),
    ("GET", "/api/v1/pairs/{pair}/reflections", None, OWN),
    ("POST", "/api/v1/pairs/{pair}/reflections", {"text": "We looked at passkeys. I will set one up."},
     {k: (201 if v == 200 else v) for k, v in ONLY_PAIR.items()}),
    ("GET", "/api/v1/pairs/{pair}/reflections/{reflection}", None, OWN),
    ("PATCH", "/api/v1/pairs/{pair}/reflections/{reflection}", {"confirmed": True},
     {"admin": 404, "coordinator": 404, "mentor": 404, "mentee": 200, "other_mentor": 404, None: 401}),
    ("GET", "/api/v1/summaries", None, PROGRAMME),
    ("POST", "/api/v1/pairs/{pair}/agenda", {"minutes": 30, "save": False}, PAIR_ONLY),
    ("GET", "/api/v1/pairs/{pair}/agenda", None,
     {k: (404 if v == 200 else v) for k, v in PAIR_ONLY.items()}),  # none saved yet
    ("GET", "/api/v1/pairs/{pair}/topics", None, OWN),
    ("GET", "/api/v1/pairs/{pair}/health", None, OWN),
    ("GET", "/api/v1/pairs/{pair}/timeline", None, OWN),
    ("POST", "/api/v1/pairs/{pair}/chat", {"message": "How do we agree ground rules?"}, ONLY_PAIR),
    ("GET", "/api/v1/pairs/{pair}/chat", None, ONLY_PAIR),
    ("GET", "/api/v1/health", None, PROGRAMME),
    ("GET", "/api/v1/health/overview", None, PROGRAMME),
    ("GET", "/api/v1/knowledge/documents", None, ANYONE),
    ("POST", "/api/v1/knowledge/documents", "upload", {**ADMIN_ONLY, "admin": 202}),
    ("POST", "/api/v1/knowledge/ingest", None, {**ADMIN_ONLY, "admin": 202}),
    ("GET", "/api/v1/knowledge/jobs", None, ADMIN_ONLY),
    ("GET", "/api/v1/knowledge/jobs/{job}", None, ADMIN_ONLY),
    ("GET", "/api/v1/me/export", None, ANYONE),
    ("POST", "/api/v1/me/notices/seen", None, {k: (204 if v == 200 else v) for k, v in ANYONE.items()}),
    ("POST", "/api/v1/tokens/exchange", {"token": "rmc_setup_unknown"},
     {k: 401 for k in ROLES}),
    ("GET", "/api/v1/people/{person_mentor}/credentials", None, OWNER_OR_ADMIN),
    # Destructive routes run in a world of their own (test_destructive_routes).
    ("DELETE", "/api/v1/people/{person_mentor}/tokens/{spare_token}", None, OWNER_OR_ADMIN_204),
    ("DELETE", "/api/v1/people/{person_mentor}/sessions/{spare_session}", None, OWNER_OR_ADMIN_204),
    ("DELETE", "/api/v1/people/{person_mentor}/credentials", None, OWNER_OR_ADMIN_204),
    ("DELETE", "/api/v1/pairs/{pair}/reflections/{reflection}", None, NOBODY_BUT_THE_AUTHOR),
    ("POST", "/api/v1/people/{person_spare}/anonymise", None, ADMIN_ONLY),
    ("DELETE", "/api/v1/people/{person_spare}", None, {**ADMIN_ONLY, "admin": 204}),
    ("DELETE", "/api/v1/pairs/{pair}", None, {**ADMIN_ONLY, "admin": 204}),
]
DESTRUCTIVE = [case for case in MATRIX if case[0] == "DELETE" or case[1].endswith("/anonymise")]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    world = build_world(tmp_path_factory.mktemp("api"))
    world.ids["job"] = world.container.ingest_jobs.submit_reingest().id
    return world


def _body(world, body):
    n = next(_emails)
    if body == "person":
        return {"name": f"New {n}", "email": f"new{n}@example.org", "role": "mentor"}
    if body == "pair":
        mentor = world.container.store.add_person(f"M {n}", f"m{n}@example.org", "mentor",
                                                  department=f"A{n}")
        mentee = world.container.store.add_person(f"E {n}", f"e{n}@example.org", "mentee",
                                                  department=f"B{n}")
        return {"mentor": mentor.id, "mentee": mentee.id, "focus": ["generational"]}
    return body


def _call(world, method, path, body, role):
    kwargs = {"headers": world.headers(role)}
    if body == "upload":
        kwargs["files"] = {"file": ("matrix.md", b"# Matrix\n\nUploaded by the role matrix.\n")}
    elif body is not None:
        kwargs["json"] = _body(world, body)
    return world.client.request(method, path.format(**world.ids), **kwargs)


CASES = [(m, p, b, role, expected[role]) for m, p, b, expected in MATRIX
         if (m, p, b, expected) not in DESTRUCTIVE for role in ROLES]


@pytest.mark.parametrize("method, path, body, role, expected", CASES,
                         ids=[f"{c[0]} {c[1]} as {c[3] or 'anonymous'}" for c in CASES])
def test_role_matrix(world, method, path, body, role, expected):
    response = _call(world, method, path, body, role)
    assert response.status_code == expected, response.text
    if expected >= 400:
        error = response.json()["error"]
        assert error["code"] and error["message"]


@pytest.mark.parametrize("method, path, body, expected", DESTRUCTIVE,
                         ids=[f"{c[0]} {c[1]}" for c in DESTRUCTIVE])
def test_destructive_routes(tmp_path, method, path, body, expected):
    """Each in a fresh world: the refused roles first, then those allowed (the mentor's own
    credentials are revoked last, by the mentor, so the token still works until then)."""
    world = build_world(tmp_path)
    refused = [r for r in ROLES if expected[r] >= 400]
    allowed = sorted((r for r in ROLES if expected[r] < 400), key=lambda r: r == "mentor")
    for role in refused + allowed:
        response = _call(world, method, path, body, role)
        assert response.status_code == expected[role], (role, response.text)
        if path.endswith("/credentials") or (path == "/api/v1/pairs/{pair}" and role == "admin"):
            break  # the first success ends what later calls would act on


def test_every_api_route_is_in_the_matrix(world):
    """Every operation of the OpenAPI document has a row (read from the document: newer
    FastAPI nests included routers, so app.routes no longer lists them)."""
    def shape(path: str) -> str:
        return re.sub(r"/\d+(?=/|$)", "/{x}", re.sub(r"\{[^}]+\}", "{x}", path))

    covered = {(m, shape(p)) for m, p, _, _ in MATRIX}
    operations = {(method.upper(), shape(path))
                  for path, ops in world.client.app.openapi()["paths"].items()
                  if path.startswith("/api/v1") for method in ops}
    assert len(operations) > 30
    assert operations - covered == set(), "routes missing from the matrix"


@pytest.mark.parametrize("path", [
    "/api/v1/pairs/{other_pair}", "/api/v1/pairs/{other_pair}/sessions",
    "/api/v1/pairs/{other_pair}/reflections", "/api/v1/pairs/{other_pair}/reflections/{other_reflection}",
    "/api/v1/pairs/{other_pair}/action-items", "/api/v1/pairs/{other_pair}/topics",
    "/api/v1/pairs/{other_pair}/timeline", "/api/v1/pairs/{other_pair}/health",
    "/api/v1/pairs/{pair}/reflections/{other_reflection}",
])
def test_another_pairs_resources_are_404_for_members(world, path):
    for role in ("mentor", "mentee"):
        response = world.client.get(path.format(**world.ids), headers=world.headers(role))
        assert response.status_code == 404
        assert "OTHER-PAIR-WORDS" not in response.text


def test_cross_pair_writes_are_404(world):
    h = world.headers("mentor")
    ids = world.ids
    assert world.client.patch(f"/api/v1/pairs/{ids['pair']}/action-items/{ids['other_item']}",
                              json={"done": True}, headers=h).status_code == 404
    assert world.client.patch(f"/api/v1/pairs/{ids['pair']}/goals/{ids['other_goal']}",
                              json={"status": "achieved"}, headers=h).status_code == 404
    assert world.client.post(f"/api/v1/pairs/{ids['pair']}/reflections", headers=world.headers("mentee"),
                             json={"text": "x y z", "session_id": ids["other_session"]}).status_code == 404


def test_pair_lists_are_scoped(world):
    mine = world.client.get("/api/v1/pairs", headers=world.headers("mentor")).json()
    assert [p["id"] for p in mine["items"]] == [world.ids["pair"]]
    everyone = world.client.get("/api/v1/pairs", headers=world.headers("coordinator")).json()
    assert everyone["total"] >= 2


def test_coordinators_never_get_raw_reflection_text(world):
    h = world.headers("coordinator")
    outputs = [
        world.client.get(f"/api/v1/pairs/{world.ids['pair']}/reflections", headers=h).text,
        world.client.get(f"/api/v1/pairs/{world.ids['pair']}/reflections/{world.ids['private_reflection']}",
                         headers=h).text,
        world.client.get("/api/v1/summaries", headers=h).text,
        world.client.get("/api/v1/health", headers=h).text,
        world.client.get(f"/api/v1/pairs/{world.ids['pair']}/timeline", headers=h).text,
    ]
    joined = "\n".join(outputs)
    assert "PRIVATE-WORDS" not in joined and "felt awkward" not in joined
    listed = json.loads(outputs[0])["items"]
    assert all(item["text"] is None for item in listed)
    assert any(item["summary"] for item in listed if not item["private"])
    # ...while the author still reads their own words
    own = world.client.get(f"/api/v1/pairs/{world.ids['pair']}/reflections/{world.ids['private_reflection']}",
                           headers=world.headers("mentee")).json()
    assert "PRIVATE-WORDS" in own["text"]
    other_member = world.client.get(
        f"/api/v1/pairs/{world.ids['pair']}/reflections/{world.ids['private_reflection']}",
        headers=world.headers("mentor")).json()
    assert other_member["text"] is None and other_member["summary"] is None
