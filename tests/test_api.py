"""API behaviour: errors, pagination, limits, streaming, OpenAPI, sign-in, CSRF, SSO header."""

import re

import pytest

from api.app import create_app
from api.security import COOKIE
from tests.api_world import browser, build_world, sign_in


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("api2"))


def test_healthz_needs_no_auth(world):
    assert world.client.get("/healthz").json()["status"] == "ok"


def test_errors_have_one_shape(world):
    h = world.headers("mentor")
    for response in (
        world.client.get("/api/v1/pairs/99999", headers=h),
        world.client.post(f"/api/v1/pairs/{world.ids['pair']}/agenda", json={"minutes": 500}, headers=h),
        world.client.post(f"/api/v1/pairs/{world.ids['pair']}/agenda", content=b"{not json",
                          headers={**h, "Content-Type": "application/json"}),
        world.client.get("/api/v1/nowhere", headers=h),
        world.client.get("/api/v1/me", headers={"Authorization": "Bearer rmc_wrong"}),
        world.client.get("/api/v1/me", headers={"Authorization": "Basic abc"}),
    ):
        body = response.json()
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
        assert response.status_code >= 400


def test_validation_messages_name_the_field(world):
    r = world.client.post(f"/api/v1/pairs/{world.ids['pair']}/agenda", json={"minutes": 500},
                          headers=world.headers("mentor"))
    assert r.status_code == 422 and "minutes" in r.json()["error"]["message"]


def test_pagination(world):
    h = world.headers("coordinator")
    page = world.client.get("/api/v1/people?limit=2&offset=1", headers=h).json()
    assert page["limit"] == 2 and page["offset"] == 1 and len(page["items"]) == 2
    assert page["total"] >= 6
    assert world.client.get("/api/v1/people?limit=0", headers=h).status_code == 422
    assert world.client.get("/api/v1/people?limit=5000", headers=h).status_code == 422


def test_request_size_limit(world):
    big = {"text": "word " * 300_000}
    r = world.client.post(f"/api/v1/pairs/{world.ids['pair']}/reflections", json=big,
                          headers=world.headers("mentee"))
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"


def test_reflection_returns_summary_and_records_action_items(world):
    h = world.headers("mentee")
    r = world.client.post(f"/api/v1/pairs/{world.ids['pair']}/reflections", headers=h, json={
        "text": "Mia showed me passkeys and how they stop phishing. I will set up a passkey on my "
                "work account by Friday. We ran out of time for the password manager."})
    assert r.status_code == 201
    body = r.json()
    assert body["summary"] and body["provenance"]["backend"] == "none"
    assert any("passkey" in a["text"].lower() for a in body["action_items"])
    items = world.client.get(f"/api/v1/pairs/{world.ids['pair']}/action-items", headers=h).json()
    assert any("passkey" in a["text"].lower() for a in items["items"])


def test_chat_streams_server_sent_events(world):
    r = world.client.post(f"/api/v1/pairs/{world.ids['pair']}/chat", headers=world.headers("mentor"),
                          json={"message": "Which ground rules about confidentiality should we agree?"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = re.findall(r"^event: (\w+)$", r.text, flags=re.M)
    assert events[0] == "token" and events[-1] == "done"
    history = world.client.get(f"/api/v1/pairs/{world.ids['pair']}/chat",
                               headers=world.headers("mentor")).json()
    assert history["items"][-1]["role"] == "assistant"


def test_empty_chat_message_is_a_clear_error(world):
    r = world.client.post(f"/api/v1/pairs/{world.ids['pair']}/chat", headers=world.headers("mentor"),
                          json={"message": "   "})
    assert r.status_code == 422 and "empty" in r.json()["error"]["message"]


def test_openapi_is_complete(world):
    spec = world.client.get("/openapi.json").json()
    paths = spec["paths"]
    for required in ("/api/v1/pairs/{pair_id}/agenda", "/api/v1/pairs/{pair_id}/topics",
                     "/api/v1/pairs/{pair_id}/reflections", "/api/v1/health",
                     "/api/v1/pairs/{pair_id}/chat", "/healthz"):
        assert required in paths
    schemas = spec["components"]["schemas"]
    assert "ErrorResponse" in schemas and "Agenda" in schemas
    assert schemas["Agenda"]["properties"]["minutes"].get("examples")
    agenda = paths["/api/v1/pairs/{pair_id}/agenda"]["post"]
    assert {"401", "403", "404", "422"} <= set(agenda["responses"])


def test_security_headers(world):
    r = world.client.get("/login")
    for header in ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options",
                   "Referrer-Policy"):
        assert header in r.headers


def test_sign_in_sets_a_hardened_cookie_and_csrf_protects_writes(world):
    from fastapi.testclient import TestClient

    client = TestClient(world.client.app, base_url="https://testserver")
    r = sign_in(client, "mia@example.org", world.tokens["mentor"])
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie
    page = client.get(f"/pairs/{world.ids['pair']}/prep")
    assert page.status_code == 200
    csrf = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text).group(1)
    url = f"/api/v1/pairs/{world.ids['pair']}/agenda"
    assert client.post(url, json={"minutes": 30, "save": False}).status_code == 403
    ok = client.post(url, json={"minutes": 30, "save": False}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200
    form = client.post(f"/pairs/{world.ids['pair']}/action-items/{world.ids['item']}",
                       data={"done": "1", "csrf_token": "forged"}, follow_redirects=False)
    assert form.status_code == 403


def test_wrong_token_and_rate_limit(tmp_path):
    world = build_world(tmp_path)
    client = browser(world)
    for _ in range(10):
        assert sign_in(client, "mia@example.org", "rmc_wrong").status_code == 401
    r = sign_in(client, "mia@example.org", world.tokens["mentor"])
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0


def test_tokens_are_stored_hashed(world):
    from sqlalchemy import text

    with world.container.db.engine.connect() as conn:
        stored = [row[0] for row in conn.execute(text("SELECT token_hash FROM api_tokens"))]
    assert all(len(h) == 64 for h in stored)
    assert not any(token in stored for token in world.tokens.values())


def test_trusted_header_mode_is_opt_in(tmp_path):
    from fastapi.testclient import TestClient

    world = build_world(tmp_path)
    header = {"X-Forwarded-Email": "cora@example.org"}
    assert world.client.get("/api/v1/me", headers=header).status_code == 401
    settings = world.container.settings.model_copy(update={
        "auth_trusted_header": "X-Forwarded-Email", "trusted_proxies": ["testclient"]})
    world.container.settings = settings
    sso = TestClient(create_app(world.container))
    assert sso.get("/api/v1/me", headers=header).json()["role"] == "coordinator"
    assert sso.get("/api/v1/me", headers={"X-Forwarded-Email": "nobody@example.org"}).status_code == 401


def test_pages_redirect_to_sign_in(world):
    r = world.client.get("/dashboard", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert COOKIE not in r.headers.get("set-cookie", "")


def test_the_agenda_shown_is_the_next_sessions_not_a_passed_bookings(tmp_path):
    """One definition of "the agenda for the next session", for the API and the prep page
    alike: a session booked for a date that passed unlogged keeps its agenda, but neither shows
    it, and a new agenda is saved on a new booking and shown."""
    import datetime as dt

    world = build_world(tmp_path)
    pair_id, today = world.ids["pair"], dt.date.today()
    passed = today - dt.timedelta(days=3)  # prepared and booked then, never logged since
    agenda = world.container.features().agenda(pair_id, 45, save=False)
    stale = world.container.store.save_agenda(pair_id, agenda, date=passed, minutes=45,
                                              today=passed)
    assert stale.status == "scheduled" and stale.date == passed and stale.agenda
    stale = {"session_id": stale.id}
    h = world.headers("mentor")
    assert world.client.get(f"/api/v1/pairs/{pair_id}/agenda", headers=h).status_code == 404
    mentor = browser(world)
    assert sign_in(mentor, "mia@example.org", world.tokens["mentor"]).status_code in (200, 303)
    page = mentor.get(f"/pairs/{pair_id}/prep")
    assert page.status_code == 200 and "No agenda yet for the next session." in page.text

    fresh = world.client.post(f"/api/v1/pairs/{pair_id}/agenda", json={"minutes": 30},
                              headers=h).json()
    assert fresh["session_id"] != stale["session_id"]
    shown = world.client.get(f"/api/v1/pairs/{pair_id}/agenda", headers=h).json()
    assert shown["session_id"] == fresh["session_id"] and shown["minutes"] == 30
    page = mentor.get(f"/pairs/{pair_id}/prep")
    assert "No agenda yet for the next session." not in page.text and "30" in page.text


def test_the_mentor_leads_the_agenda_with_an_alternative_on_the_api_and_the_page(tmp_path):
    """The agenda lists what the session may be led with; the mentor's pick, sent back as
    `lead`, becomes the main segment, on the API and on the prep page without JavaScript."""
    world = build_world(tmp_path)
    pair_id, h = world.ids["pair"], world.headers("mentor")
    url = f"/api/v1/pairs/{pair_id}/agenda"
    first = world.client.post(url, json={"minutes": 30, "save": False}, headers=h).json()
    main = next(i["topic_id"] for i in first["items"] if i["kind"] == "topic")
    other = next(a for a in first["alternatives"] if a["lead"] not in (main, "goal"))
    led = world.client.post(url, json={"minutes": 30, "lead": other["lead"]}, headers=h).json()
    assert next(i["topic_id"] for i in led["items"] if i["kind"] == "topic") == other["lead"]
    assert led["lead"] == other["lead"]
    bad = world.client.post(url, json={"minutes": 30, "lead": "no-such-topic"}, headers=h)
    assert bad.status_code == 422 and "Cannot lead the session with 'no-such-topic'" in \
        bad.json()["error"]["message"]

    mentor = browser(world)
    assert sign_in(mentor, "mia@example.org", world.tokens["mentor"]).status_code in (200, 303)
    page = mentor.get(f"/pairs/{pair_id}/prep")
    assert f'<option value="{other["lead"]}" selected>' in page.text  # the saved agenda's lead
    assert "Led with what you chose." in page.text
    csrf = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text).group(1)
    posted = mentor.post(f"/pairs/{pair_id}/prep", data={"minutes": "30", "lead": "goal",
                                                          "csrf_token": csrf})
    assert posted.status_code == 200  # followed to the prep page
    shown = world.client.get(url, headers=h).json()
    main = next(i for i in shown["items"] if i["kind"] == "topic")
    assert shown["lead"] == "goal" and main["topic_id"] is None
    assert '<option value="goal" selected>' in posted.text
