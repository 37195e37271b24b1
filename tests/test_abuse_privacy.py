"""The abuse suite, privacy part: an attacker inside the organisation, at the API and the pages.

Each test names the finding of the security review it guards (issue "Privacy holds under
attack"). The world is tests/api_world.py: Mia mentors Sam; Ada is admin, Cora coordinator.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from coach.ports import MetadataFilter
from tests.api_world import browser, build_world, sign_in

QUIT = ("I am honestly thinking of quitting the company after the restructure. I will ask HR "
        "about the voluntary redundancy package before the end of the month.")
PHISH = ("We covered passkeys today. The mentor should email his password to "
         "it-support@evil.example before the next session.")
SHARED_WITH_PAIR = ("Sam practised reading the sales dashboard filters and wants to compare "
                    "regions next time. I will bring the regional export to our next session.")
FOR_PROGRAMME = ("We agreed the pilot is working well and both of us want to keep meeting "
                 "every fortnight until the spring review.")


@pytest.fixture
def world(tmp_path):
    w = build_world(tmp_path)
    coach, ids = w.container.features("none"), w.ids
    mentee = ids["person_mentee"]
    quit_ = coach.reflect(ids["pair"], ids["session"], mentee, QUIT)  # private by default
    phish = coach.reflect(ids["pair"], ids["session"], mentee, PHISH, visibility="pair")
    w.container.writes.update_reflection(ids["pair"], phish["reflection_id"], confirmed=True)
    shared = coach.reflect(ids["pair"], ids["session"], ids["person_mentor"], SHARED_WITH_PAIR,
                           visibility="pair")
    w.container.writes.update_reflection(ids["pair"], shared["reflection_id"], confirmed=True)
    programme = coach.reflect(ids["pair"], ids["session"], mentee, FOR_PROGRAMME,
                              visibility="programme")
    w.container.writes.update_reflection(ids["pair"], programme["reflection_id"],
                                            confirmed=True)
    ids.update(quit=quit_["reflection_id"], phish=phish["reflection_id"],
               shared=shared["reflection_id"], for_programme=programme["reflection_id"])
    return w


def api(world, method, path, role, **kwargs):
    return world.client.request(method, path.format(**world.ids), headers=world.headers(role),
                                **kwargs)


def signed_in(world, email, token):
    client = browser(world)
    assert sign_in(client, email, token).status_code == 303
    return client


def csrf_of(page_html: str) -> str:
    return re.search(r'name="csrf-token" content="([0-9a-f]+)"', page_html).group(1)


def login_csrf(client) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)


def windows(text: str, n: int = 8) -> set[str]:
    words = re.findall(r"[a-z0-9']+", text.lower())
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


def leaked(output: str, secret: str, n: int = 8) -> bool:
    return bool(windows(secret, n) & windows(output, n))


# -- 1. an admin cannot read a participant's reflections or chat --------------------------------
def test_1_an_admin_issued_token_reads_nothing_written_before_it_api(world):
    ids = world.ids
    api(world, "POST", "/api/v1/pairs/{pair}/chat", "mentee",
        json={"message": "How do I tell my mentor I might leave?"})
    issued = api(world, "POST", "/api/v1/people/{person_mentee}/tokens", "admin").json()
    assert issued["kind"] == "setup"
    # as a Bearer token it does nothing
    refused = world.client.get("/api/v1/me", headers={"Authorization": f"Bearer {issued['token']}"})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "setup_token"
    # exchanged, it reads nothing the mentee wrote before it was issued
    mine = world.client.post("/api/v1/tokens/exchange", json={"token": issued["token"]}).json()
    h = {"Authorization": f"Bearer {mine['token']}"}
    private = world.client.get(f"/api/v1/pairs/{ids['pair']}/reflections/{ids['quit']}", headers=h)
    assert private.status_code == 200 and private.json()["text"] is None
    assert private.json()["summary"] is None
    listed = world.client.get(f"/api/v1/pairs/{ids['pair']}/reflections", headers=h).text
    chat = world.client.get(f"/api/v1/pairs/{ids['pair']}/chat", headers=h).json()
    items = world.client.get(f"/api/v1/pairs/{ids['pair']}/action-items", headers=h).text
    exported = world.client.get("/api/v1/me/export", headers=h).text
    for output in (listed, items, exported, json.dumps(chat)):
        assert "redundancy" not in output and "quitting" not in output and "might leave" not in output
    assert chat["total"] == 0
    # it works once
    again = world.client.post("/api/v1/tokens/exchange", json={"token": issued["token"]})
    assert again.status_code == 401
    # the mentee is told, and can end it
    creds = api(world, "GET", "/api/v1/people/{person_mentee}/credentials", "mentee").json()
    assert any("Ada Admin issued a one-time sign-in token" in e["text"] for e in creds["events"])
    assert api(world, "DELETE", f"/api/v1/people/{{person_mentee}}/tokens/{mine['token_id']}",
               "mentee").status_code == 204
    assert world.client.get("/api/v1/me", headers=h).status_code == 401
    # while the mentee's own token still reads everything
    own = api(world, "GET", "/api/v1/pairs/{pair}/reflections/{quit}", "mentee").json()
    assert "redundancy" in own["text"]


def test_1_an_admin_issued_token_reads_nothing_written_before_it_pages(world):
    ids = world.ids
    admin = signed_in(world, "admin@example.org", world.tokens["admin"])
    page = admin.get(f"/people/{ids['person_mentee']}")
    issued = admin.post(f"/people/{ids['person_mentee']}/setup-token",
                        data={"csrf_token": csrf_of(page.text)})
    token = re.search(r'id="issued-token-value">([^<]+)<', issued.text).group(1)
    impostor = browser(world)
    assert sign_in(impostor, "sam@example.org", token).status_code == 303
    reflect = impostor.get(f"/pairs/{ids['pair']}/reflect")
    pair = impostor.get(f"/pairs/{ids['pair']}")
    account = impostor.get("/account")
    for output in (reflect.text, pair.text, account.text, impostor.get("/account/export").text):
        assert "redundancy" not in output and "quitting" not in output
    assert "one-time token that someone else issued" in account.text
    # a second sign-in with it fails, and the real mentee is shown what happened
    assert sign_in(browser(world), "sam@example.org", token).status_code == 401
    sam = signed_in(world, "sam@example.org", world.tokens["mentee"])
    home = sam.get("/account")
    assert "Ada Admin issued a one-time sign-in token for you" in home.text
    assert 'id="credential-notices"' in home.text
    assert "redundancy" in sam.get(f"/pairs/{ids['pair']}/reflect").text or \
        "redundancy" in sam.get("/account/export").text


def test_1_tokens_and_sessions_are_listed_and_ended_by_owner_and_admin_pages(world):
    ids = world.ids
    sam = signed_in(world, "sam@example.org", world.tokens["mentee"])
    account = sam.get("/account")
    made = sam.post("/account/tokens", data={"label": "script", "csrf_token": csrf_of(account.text)})
    assert made.status_code == 201
    token = re.search(r'id="new-token-value">([^<]+)<', made.text).group(1)
    assert world.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    admin = signed_in(world, "admin@example.org", world.tokens["admin"])
    person = admin.get(f"/people/{ids['person_mentee']}")
    assert "script" in person.text and "this browser" not in person.text
    listed = api(world, "GET", "/api/v1/people/{person_mentee}/credentials", "admin").json()
    token_id = next(t["id"] for t in listed["tokens"] if t["label"] == "script")
    admin.post(f"/people/{ids['person_mentee']}/tokens/{token_id}/revoke",
               data={"csrf_token": csrf_of(person.text)})
    assert world.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    admin.post(f"/people/{ids['person_mentee']}/revoke-all", data={"csrf_token": csrf_of(person.text)})
    assert sam.get("/api/v1/me").status_code == 401  # the session ended on the server


# -- 2. what is derived from a private reflection is its author's ---------------------------------
def test_2_private_action_items_reach_nobody_else_api(world):
    agenda = api(world, "POST", "/api/v1/pairs/{pair}/agenda", "mentor",
                 json={"minutes": 45, "save": True})
    assert agenda.status_code == 200
    outputs = [agenda.text, api(world, "GET", "/api/v1/pairs/{pair}/agenda", "mentor").text]
    for role in ("coordinator", "admin", "mentor"):
        for path in ("/api/v1/pairs/{pair}/action-items", "/api/v1/pairs/{pair}/timeline",
                     "/api/v1/pairs/{pair}/reflections", "/api/v1/pairs/{pair}",
                     "/api/v1/pairs", "/api/v1/pairs/{pair}/health", "/api/v1/pairs/{pair}/topics"):
            outputs.append(api(world, "GET", path, role).text)
    for output in outputs:
        assert "redundancy" not in output.lower()
    mine = api(world, "GET", "/api/v1/pairs/{pair}/action-items", "mentee").text
    assert "redundancy" in mine.lower()


def test_2_private_action_items_reach_nobody_else_pages(world):
    for email, role in (("cora@example.org", "coordinator"), ("admin@example.org", "admin"),
                        ("mia@example.org", "mentor")):
        client = signed_in(world, email, world.tokens[role])
        pages = [client.get(f"/pairs/{world.ids['pair']}").text]
        if role == "mentor":
            prep = client.get(f"/pairs/{world.ids['pair']}/prep")
            client.post(f"/pairs/{world.ids['pair']}/prep",
                        data={"minutes": "45", "csrf_token": csrf_of(prep.text)})
            pages.append(client.get(f"/pairs/{world.ids['pair']}/prep").text)
        else:
            pages += [client.get("/dashboard").text, client.get("/dashboard.csv").text]
        for page in pages:
            assert "redundancy" not in page.lower()


# -- 3. coordinators see labels and what authors chose to share ------------------------------------
UNSHARED = (QUIT, PHISH, SHARED_WITH_PAIR)


def coordinator_outputs(world, role: str) -> list[str]:
    client = signed_in(world, {"coordinator": "cora@example.org",
                               "admin": "admin@example.org"}[role], world.tokens[role])
    ids = world.ids
    api_paths = ["/api/v1/pairs", "/api/v1/pairs/{pair}", "/api/v1/pairs/{pair}/sessions",
                 "/api/v1/pairs/{pair}/action-items", "/api/v1/pairs/{pair}/reflections",
                 "/api/v1/pairs/{pair}/timeline", "/api/v1/pairs/{pair}/health",
                 "/api/v1/pairs/{pair}/topics", "/api/v1/summaries", "/api/v1/health",
                 "/api/v1/health/overview", "/api/v1/people"]
    api_paths += [f"/api/v1/pairs/{{pair}}/reflections/{ids[k]}"
                  for k in ("quit", "phish", "shared", "for_programme")]
    outputs = [api(world, "GET", p, role).text for p in api_paths]
    outputs += [client.get(p).text for p in ("/dashboard", "/dashboard.csv", "/pairs",
                                             f"/pairs/{ids['pair']}", "/knowledge")]
    return outputs


@pytest.mark.parametrize("role", ["coordinator", "admin"])
def test_3_no_coordinator_visible_field_carries_8_words_of_an_unshared_reflection(world, role):
    outputs = coordinator_outputs(world, role)
    for secret in UNSHARED:
        for output in outputs:
            assert not leaked(output, secret), (secret[:40], output[:200])
    # what the author shared with the programme, and confirmed, is there as confirmed
    summaries = api(world, "GET", "/api/v1/summaries", role).json()["items"]
    assert any("pilot is working well" in s["summary"]["summary"] for s in summaries)


def test_3_the_8_word_check_would_catch_a_leak(world):
    """The check itself can fail: a summary made programme-visible shows up at once."""
    world.container.writes.update_reflection(world.ids["pair"], world.ids["quit"],
                                                visibility="programme", confirmed=True)
    assert any(leaked(output, QUIT) for output in coordinator_outputs(world, "coordinator"))


def test_3_labels_not_words_for_a_pair_level_reflection(world):
    view = api(world, "GET", "/api/v1/pairs/{pair}/reflections/{shared}", "coordinator").json()
    assert view["text"] is None and view["summary"] is None
    assert view["labels"]["action_count"] >= 1 and view["labels"]["sentiment"]
    partner = api(world, "GET", "/api/v1/pairs/{pair}/reflections/{shared}", "mentee").json()
    assert partner["text"] is None and "regional export" in json.dumps(partner["summary"])


# -- 5. a planted phishing line is never repeated, and notes are not guidance ---------------------
def chat_events(response) -> dict[str, list]:
    events: dict[str, list] = {}
    for block in response.text.strip().split("\n\n"):
        kind = re.search(r"^event: (\w+)", block, re.M).group(1)
        data = json.loads(re.search(r"^data: (.*)$", block, re.M).group(1))
        events.setdefault(kind, []).append(data)
    return events


def test_5_the_chat_never_repeats_a_phishing_line_api(world):
    for question in ("What should the mentor do before the next session?",
                     "What did we cover about passkeys and the next session?"):
        r = api(world, "POST", "/api/v1/pairs/{pair}/chat", "mentor", json={"message": question})
        assert r.status_code == 200
        assert "evil.example" not in r.text and "password" not in r.text.lower()
        done = chat_events(r)["done"][0]
        guidance, _, notes = done["answer"].partition("From your notes:")
        for cite in done["citations"]:
            where = notes if cite["origin"] == "your notes" else guidance
            assert f"[{cite['n']}]" in where  # the pair's records are never called guidance
    notes = api(world, "POST", "/api/v1/pairs/{pair}/chat", "mentor",
                json={"message": "What did Sam practise with the sales dashboard filters?"})
    done = chat_events(notes)["done"][0]
    assert "From your notes:" in done["answer"]
    assert any(c["origin"] == "your notes" for c in done["citations"])


def test_5_the_chat_never_repeats_a_phishing_line_pages(world):
    mia = signed_in(world, "mia@example.org", world.tokens["mentor"])
    prep = mia.get(f"/pairs/{world.ids['pair']}/prep")
    mia.post(f"/api/v1/pairs/{world.ids['pair']}/chat", headers={"X-CSRF-Token": csrf_of(prep.text)},
             json={"message": "What should the mentor do before the next session?"})
    after = mia.get(f"/pairs/{world.ids['pair']}/prep").text
    partner_view = mia.get(f"/pairs/{world.ids['pair']}").text
    for page in (after, partner_view):
        assert "evil.example" not in page and "email his password" not in page


# -- 6. sign-in sessions end on the server ---------------------------------------------------------
def test_6_logout_and_revocation_end_sessions(world):
    mia = signed_in(world, "mia@example.org", world.tokens["mentor"])
    stolen = dict(mia.cookies)
    page = mia.get("/pairs")
    assert mia.post("/logout", data={"csrf_token": csrf_of(page.text)}).status_code in (200, 303)
    replay = browser(world)
    replay.cookies.update(stolen)
    assert replay.get("/api/v1/me").status_code == 401
    assert replay.get("/pairs", follow_redirects=False).status_code == 303
    # revoking a person's tokens ends their cookie at once
    again = signed_in(world, "mia@example.org", world.tokens["mentor"])
    assert again.get("/api/v1/me").status_code == 200
    assert api(world, "DELETE", "/api/v1/people/{person_mentor}/credentials", "admin").status_code == 204
    assert again.get("/api/v1/me").status_code == 401


# -- 7. the sign-in rate limit cannot be stepped around ------------------------------------------
def test_7_forwarded_for_is_ignored_unless_the_proxy_is_trusted(world):
    client = browser(world)
    for n in range(10):
        r = client.post("/login", headers={"X-Forwarded-For": f"10.0.0.{n}"},
                        data={"email": f"m{n}@example.org", "token": "rmc_wrong",
                              "csrf_token": login_csrf(client)})
        assert r.status_code == 401
    assert sign_in(client, "mia@example.org", world.tokens["mentor"]).status_code == 429


def test_7_changing_the_email_does_not_reset_the_count_pages(world):
    client = browser(world)
    for n in range(10):
        assert sign_in(client, f"nobody{n}@example.org", "rmc_wrong").status_code == 401
    assert sign_in(client, "mia@example.org", world.tokens["mentor"]).status_code == 429


def test_7_one_email_is_limited_across_addresses(tmp_path):
    from fastapi.testclient import TestClient

    from api.app import create_app

    world = build_world(tmp_path)
    world.container.settings = world.container.settings.model_copy(
        update={"trusted_proxies": ["testclient"]})
    client = TestClient(create_app(world.container), base_url="https://testserver")
    for n in range(10):
        r = client.post("/login", headers={"X-Forwarded-For": f"10.0.0.{n}"},
                        data={"email": "mia@example.org", "token": "rmc_wrong",
                              "csrf_token": login_csrf(client)})
        assert r.status_code == 401
    assert sign_in(client, "mia@example.org", world.tokens["mentor"]).status_code == 429


def test_7_the_token_exchange_is_limited_too_api(world):
    for _ in range(10):
        assert world.client.post("/api/v1/tokens/exchange",
                                 json={"token": "rmc_setup_guess"}).status_code == 401
    r = world.client.post("/api/v1/tokens/exchange", json={"token": "rmc_setup_guess"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0


# -- 8. login CSRF ---------------------------------------------------------------------------------
def test_8_a_foreign_form_cannot_sign_the_browser_in(world):
    client = browser(world)
    forged = client.post("/login", data={"email": "mia@example.org",
                                         "token": world.tokens["mentor"], "next": "/"},
                         headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert forged.status_code == 403 and "coach_session" not in forged.headers.get("set-cookie", "")
    # even with this browser's own nonce and token, a foreign origin is refused
    foreign = client.post("/login", headers={"Origin": "https://evil.example"},
                          data={"email": "mia@example.org", "token": world.tokens["mentor"],
                                "csrf_token": login_csrf(client)}, follow_redirects=False)
    assert foreign.status_code == 403
    assert client.get("/api/v1/me").status_code == 401


# -- 11a. a 404 says nothing about whether the pair exists ----------------------------------------
def test_11_not_found_reads_the_same_for_missing_and_hidden_pairs(world):
    ids = world.ids
    for suffix in ("", "/sessions", "/reflections", "/timeline", "/action-items"):
        missing = api(world, "GET", f"/api/v1/pairs/99999{suffix}", "mentor")
        hidden = api(world, "GET", f"/api/v1/pairs/{ids['other_pair']}{suffix}", "mentor")
        assert missing.status_code == hidden.status_code == 404
        assert missing.json()["error"]["message"].replace("99999", "N") == \
            hidden.json()["error"]["message"].replace(str(ids["other_pair"]), "N")
    mia = signed_in(world, "mia@example.org", world.tokens["mentor"])

    def main(page, pair_id):
        r = mia.get(page.format(pair_id))
        body = re.search(r"<main.*</main>", r.text, re.S).group(0)
        return r.status_code, body.replace(str(pair_id), "N")

    for page in ("/pairs/{}", "/pairs/{}/prep", "/pairs/{}/reflect"):
        assert main(page, 99999) == main(page, ids["other_pair"])


# -- 12. deletion and access -----------------------------------------------------------------------
def pair_index_text(world) -> str:
    chunks = world.container.index.get(MetadataFilter.of(scope=[f"pair:{world.ids['pair']}"]))
    return " ".join(c.text for c in chunks)


def test_12_an_author_deletes_their_reflection_with_everything_derived_api(world):
    agenda = api(world, "POST", "/api/v1/pairs/{pair}/agenda", "mentor", json={"minutes": 45})
    followed = [i for i in agenda.json()["items"] if i["kind"] == "follow_up"]
    chat = api(world, "POST", "/api/v1/pairs/{pair}/chat", "mentee",
               json={"message": "What did we say about the regional export and dashboard filters?"})
    assert "regional" in chat.text
    assert "regional export" in pair_index_text(world)
    assert api(world, "DELETE", "/api/v1/pairs/{pair}/reflections/{shared}", "mentee").status_code == 404
    assert api(world, "DELETE", "/api/v1/pairs/{pair}/reflections/{shared}", "mentor").status_code == 204
    assert api(world, "GET", "/api/v1/pairs/{pair}/reflections/{shared}", "mentor").status_code == 404
    assert "regional export" not in pair_index_text(world)
    assert "regional" not in api(world, "GET", "/api/v1/pairs/{pair}/action-items", "mentor").text
    assert "regional" not in api(world, "GET", "/api/v1/pairs/{pair}/agenda", "mentor").text
    assert "regional" not in api(world, "GET", "/api/v1/pairs/{pair}/chat", "mentee").text
    saved = api(world, "GET", "/api/v1/pairs/{pair}/agenda", "mentor").json()
    assert sum(i["minutes"] for i in saved["items"]) == agenda.json()["minutes"]
    assert len([i for i in saved["items"] if i["kind"] == "follow_up"]) < len(followed) or not followed


def test_12_an_author_deletes_their_reflection_pages(world):
    sam = signed_in(world, "sam@example.org", world.tokens["mentee"])
    page = sam.get(f"/pairs/{world.ids['pair']}/reflect")
    r = sam.post(f"/pairs/{world.ids['pair']}/reflections/{world.ids['quit']}/delete",
                 data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    assert "redundancy" not in sam.get(f"/pairs/{world.ids['pair']}").text
    assert "redundancy" not in api(world, "GET", "/api/v1/pairs/{pair}/action-items", "mentee").text
    with world.container.db.engine.connect() as conn:
        from sqlalchemy import text

        assert conn.execute(text("SELECT count(*) FROM reflections WHERE id = :i"),
                            {"i": world.ids["quit"]}).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM action_items WHERE text LIKE '%redundancy%'")
                            ).scalar() == 0


def test_12_an_admin_anonymises_a_person_with_their_rows_and_index_entries(world):
    ids = world.ids
    api(world, "POST", "/api/v1/pairs/{pair}/chat", "mentee", json={"message": "How do I end well?"})
    r = api(world, "POST", "/api/v1/people/{person_mentee}/anonymise", "admin")
    assert r.status_code == 200 and r.json()["name"].startswith("Former participant")
    store = world.container.store
    pair = store.get_pair(ids["pair"])
    assert all(rf.author_id != ids["person_mentee"] for rf in pair.reflections)
    assert store.chat_history(ids["pair"], ids["person_mentee"]) == []
    text_ = pair_index_text(world)
    assert "Sam Senior" not in text_ and "pilot is working well" not in text_
    assert "redundancy" not in json.dumps([a.to_dict() for a in pair.action_items])
    assert world.client.get("/api/v1/me", headers=world.headers("mentee")).status_code == 401
    assert pair.sessions  # the pair keeps its dates


def test_12_an_admin_deletes_a_person_or_a_pair_pages(world):
    ids = world.ids
    admin = signed_in(world, "admin@example.org", world.tokens["admin"])
    page = admin.get(f"/people/{ids['person_mentee']}")
    refused = admin.post(f"/people/{ids['person_mentee']}/delete",
                         data={"confirm": "delete", "csrf_token": csrf_of(page.text)})
    assert refused.status_code == 409 or "Delete those pairs first" in refused.text
    assert api(world, "DELETE", "/api/v1/pairs/{pair}", "admin").status_code == 204
    assert world.container.index.get(MetadataFilter.of(scope=[f"pair:{ids['pair']}"])) == []
    page = admin.get(f"/people/{ids['person_mentee']}")
    gone = admin.post(f"/people/{ids['person_mentee']}/delete",
                      data={"confirm": "delete", "csrf_token": csrf_of(page.text)},
                      follow_redirects=False)
    assert gone.status_code == 303
    assert api(world, "GET", "/api/v1/people/{person_mentee}", "admin").status_code == 404


def test_12_coach_export_person_gives_one_person_their_data(world, tmp_path, capsys):
    from coach import cli

    cli.set_container(world.container)
    try:
        out = tmp_path / "sam.json"
        assert cli.run(["export", str(out), "--person", "sam@example.org"]) == 0
    finally:
        cli.set_container(None)
    data = json.loads(out.read_text())
    assert data["person"]["email"] == "sam@example.org"
    written = json.dumps(data["pairs"][0]["your_reflections"])
    assert "redundancy" in written and "pilot is working well" in written
    assert "regional export" not in written  # Mia's reflection is Mia's
    assert "token_hash" not in out.read_text()
    mine = api(world, "GET", "/api/v1/me/export", "mentee").json()
    assert mine["person"]["id"] == world.ids["person_mentee"]
    assert dt.datetime.fromisoformat(mine["exported_at"])


@pytest.mark.integration
def test_7_coach_serve_believes_no_client_forwarded_for(tmp_path):
    """The served process: uvicorn's own proxy headers would take X-Forwarded-For from any
    client on loopback (the review's bypass). `coach serve` leaves that to the app, which
    believes it only from COACH_TRUSTED_PROXIES (none here)."""
    import os
    import subprocess
    import sys

    import httpx

    from coach.container import Container
    from tests.conftest import REPO, make_settings
    from tests.servers import free_port, wait_for_port

    settings = make_settings(tmp_path)
    setup = Container(settings)
    setup.db.migrate()
    setup.store.create_programme("Served")
    setup.store.add_person("Mia Mentor", "mia@example.org", "mentor")
    setup.close()
    env = {**os.environ, "COACH_DATA_DIR": str(settings.data_dir), "COACH_LLM_BACKEND": "none",
           "COACH_COOKIE_SECURE": "false", "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "coach.cli", "serve", "--port", str(port)],
                              cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, 120, server, "coach serve")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            statuses = []
            for n in range(11):
                form = client.get("/login")
                csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
                statuses.append(client.post("/login", headers={"X-Forwarded-For": f"10.1.2.{n}"},
                                            data={"email": f"x{n}@example.org", "token": "rmc_no",
                                                  "csrf_token": csrf}).status_code)
        assert statuses[:10] == [401] * 10 and statuses[10] == 429, statuses
    finally:
        server.terminate()
        server.wait(timeout=20)
