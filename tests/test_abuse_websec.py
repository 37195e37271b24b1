"""Abuse suite, web security: spreadsheet formulas in CSV exports, thresholds that are not
numbers or make no sense, rejected model output shown to users, and HSTS.

Each test drives the served app (JSON API and pages, signed in the way a browser is) and, where
the feature has one, the CLI."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from coach import cli
from coach.adapters.fakes import FakeChatModel
from coach.generation.guard import FallbackReason
from tests.api_world import build_world

TODAY = dt.date.today()


def sign_in(world, role: str) -> TestClient:
    """A browser-like client signed in at /login with email and token (over https, so the
    Secure cookie comes back). Hidden fields of the form, such as a CSRF token, are sent too."""
    client = TestClient(world.client.app, base_url="https://testserver")
    form = client.get("/login").text
    fields = dict(re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"',
                             form))
    person = world.container.store.get_person(world.ids[f"person_{role}"])
    fields.update(email=person.email, token=world.tokens[role], next="/")
    assert client.post("/login", data=fields, follow_redirects=False).status_code == 303
    return client


def run_cli(world, capsys, *argv: str) -> tuple[int, str, str]:
    cli.set_container(world.container)
    try:
        code = cli.run(list(argv))
    finally:
        cli.set_container(None)
    captured = capsys.readouterr()
    return code, captured.out, " ".join(captured.err.split())


# -- 9. spreadsheet formulas in CSV exports ---------------------------------------------------
FORMULA_NAMES = ['=HYPERLINK("http://evil.example","x")', '+SUM(1,2)', '-2+3+cmd|" /C calc"!A0',
                 '@SUM(1,2)']


@pytest.fixture(scope="module")
def formula_world(tmp_path_factory):
    world = build_world(tmp_path_factory.mktemp("formulas"))
    store, programme = world.container.store, world.container.writes
    people = [store.add_person(name, f"formula{i}@example.org", role, department=f"Dept {i}")
              for i, (name, role) in enumerate(zip(FORMULA_NAMES, ("mentor", "mentee") * 2))]
    for mentor, mentee in (people[0:2], people[2:4]):
        programme.add_pair(mentor.id, mentee.id, ["technology"],
                           starts_on=TODAY - dt.timedelta(days=90))
    return world


def cells_of(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def assert_escaped(cells: list[str]) -> None:
    for name in FORMULA_NAMES:
        assert "'" + name in cells, f"{name} is missing or not escaped"
    live = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert live == [], f"cells a spreadsheet would run as formulas: {live}"


def test_dashboard_csv_escapes_formula_names(formula_world):
    client = sign_in(formula_world, "coordinator")
    response = client.get("/dashboard.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert_escaped(cells_of(response.text))


def test_health_cli_csv_escapes_formula_names(formula_world, capsys):
    code, out, _err = run_cli(formula_world, capsys, "health", "--format", "csv")
    assert code == 0
    assert out.splitlines()[0] == ",".join(
        ["pair_id", "mentor", "mentee", "focus", "status", "score", "reasons", "suggested_actions"])
    assert_escaped(cells_of(out))


def test_every_formula_start_is_escaped_and_numbers_are_left_alone():
    from coach.health.csv_export import write_csv

    out = io.StringIO()
    write_csv(out, ["a", "b", "c", "d"],
              [["\tx", "\r=1+1", "plain - text", -3], ["=1", "@x", "+1", 0]])
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[1] == ["'\tx", "'\r=1+1", "plain - text", "-3"]
    assert rows[2] == ["'=1", "'@x", "'+1", "0"]


# -- 10. thresholds that are not finite numbers, or make no sense ------------------------------
THRESHOLDS = "/api/v1/programmes/1/thresholds"
REFUSED = [
    ('{"gap_warn_ratio": Infinity}', "gap_warn_ratio must be a number above 0 and at most 20"),
    ('{"gap_warn_ratio": -Infinity}', "gap_warn_ratio must be a number above 0 and at most 20"),
    ('{"gap_stalled_ratio": NaN}', "gap_stalled_ratio must be a number above 0 and at most 20"),
    ('{"negative_share_warn": NaN}', "negative_share_warn must be a number from 0 to 1"),
    ('{"missed_stalled": Infinity}', "missed_stalled must be a whole number from 1 to 20"),
    ('{"gap_warn_ratio": 1e400}', "gap_warn_ratio must be a number above 0"),
    ('{"gap_warn_ratio": 0}', "gap_warn_ratio must be a number above 0"),
    ('{"gap_warn_ratio": 1000}', "gap_warn_ratio must be a number above 0 and at most 20"),
    ('{"missed_warn": true}', "missed_warn must be a whole number from 1 to 20; got True"),
    ('{"missed_warn": 2.5}', "missed_warn must be a whole number"),
    ('{"missed_warn": 0}', "missed_warn must be a whole number from 1 to 20"),
    ('{"reflection_window": 100000}', "reflection_window must be a whole number from 1 to 20"),
    ('{"gap_stalled_min_days": -5}', "gap_stalled_min_days must be a whole number from 1 to 365"),
    ('{"negative_share_warn": 1.5}', "negative_share_warn must be a number from 0 to 1"),
    ('{"at_risk_below": 101}', "at_risk_below must be a whole number from 0 to 100"),
    ('{"gap_warn_ratio": 2.5}', "gap_warn_ratio (2.5) must be at most gap_alarm_ratio (2)"),
    ('{"gap_alarm_ratio": 6, "gap_stalled_ratio": 4}',
     "gap_alarm_ratio (6) must be at most gap_stalled_ratio (4)"),
    ('{"missed_warn": 5}', "missed_warn (5) must be at most missed_stalled (3)"),
    ('{"stalled_below": 80}', "stalled_below (80) must be below at_risk_below (75)"),
]


@pytest.fixture
def world(tmp_path):
    return build_world(tmp_path)


@pytest.mark.parametrize("raw, message", REFUSED, ids=[r for r, _ in REFUSED])
def test_api_refuses_thresholds_that_are_not_finite_or_make_no_sense(world, raw, message):
    headers = {**world.headers("admin"), "Content-Type": "application/json"}
    response = world.client.put(THRESHOLDS, content=f'{{"health_thresholds": {raw}}}',
                                headers=headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and message in error["message"]
    assert "\n" not in error["message"]
    programme = world.client.get("/api/v1/programmes/1", headers=world.headers("admin")).json()
    assert programme["health_thresholds"] == {}  # nothing half-stored


CLI_REFUSED = [("gap_warn_ratio=inf", "gap_warn_ratio must be a number above 0 and at most 20"),
               ("gap_warn_ratio=Infinity", "gap_warn_ratio must be a number above 0"),
               ("gap_alarm_ratio=nan", "gap_alarm_ratio must be a number above 0 and at most 20"),
               ("missed_warn=1e999", "missed_warn must be a whole number from 1 to 20"),
               ("missed_warn=true", "missed_warn must be a whole number from 1 to 20"),
               ("negative_share_warn=-0.5", "negative_share_warn must be a number from 0 to 1"),
               ("gap_warn_ratio=9", "gap_warn_ratio (9) must be at most gap_alarm_ratio (2)"),
               ("stalled_below=75", "stalled_below (75) must be below at_risk_below (75)")]


@pytest.mark.parametrize("setting, message", CLI_REFUSED, ids=[s for s, _ in CLI_REFUSED])
def test_cli_refuses_the_same_thresholds(world, capsys, setting, message):
    code, _out, err = run_cli(world, capsys, "programme", "thresholds", setting)
    assert code == 1 and err.startswith("error: ") and message in err
    assert world.container.store.get_programme(1).health_thresholds == {}
    code, _out, _err = run_cli(world, capsys, "programme", "thresholds", "gap_warn_ratio=2",
                               "missed_warn=3", "negative_share_warn=1")
    assert code == 0  # sensible values still go through
    assert world.container.store.get_programme(1).health_thresholds == {
        "gap_warn_ratio": 2.0, "missed_warn": 3, "negative_share_warn": 1.0}


def test_stored_thresholds_the_rules_refuse_are_ignored_and_reported(world, capsys, caplog):
    """Overrides saved before the rules (Infinity silenced the inactivity alerts) no longer
    count: health uses the defaults for them, logs why, and `coach doctor` reports them."""
    from coach.operations.doctor import run_doctor

    c = world.container
    a_month_on = (TODAY + dt.timedelta(days=30)).isoformat()  # 37 days since the last session
    c.store.update_programme_thresholds(1, {"gap_warn_ratio": float("inf"), "missed_warn": 3})
    with caplog.at_level("WARNING", logger="coach.health.monitoring"):
        response = world.client.get(f"/api/v1/health?as_of={a_month_on}",
                                    headers=world.headers("coordinator"))
    assert response.status_code == 200
    pair = next(h for h in response.json()["items"] if h["pair_id"] == world.ids["pair"])
    assert pair["status"] == "at_risk" and "inactivity" in {r["signal"] for r in pair["reasons"]}
    assert "gap_warn_ratio is ignored" in caplog.text
    report = run_doctor(c)
    assert [f.check for f in report.findings] == ["thresholds"]
    assert "gap_warn_ratio must be a number above 0" in report.findings[0].detail
    code, out, _err = run_cli(world, capsys, "programme", "show")
    assert code == 0 and "ignored" in out
    run_doctor(c, repair=True)
    assert c.store.get_programme(1).health_thresholds == {"missed_warn": 3}
    assert run_doctor(c).findings == []


# -- 11c. users never see what the model said when its answer was refused ---------------------
MARKER = "ZQX7-REJECTED-MODEL-WORDS"


class MarkerModel(FakeChatModel):
    """Answers every request with MARKER where the coach's checks refuse it, or, when it
    crashes, in the exception's message: a reason that quoted the model would show it."""

    def __init__(self, crash: bool):
        super().__init__()
        self.crash = crash

    def reply_for(self, schema: dict | None) -> str | Exception:
        if self.crash:
            return RuntimeError(f"{MARKER} lost its context")
        wanted = (schema or {}).get("properties", {})
        if "topic_ids" in wanted:  # agenda and topics: ids that are not candidates
            ids = [f"{MARKER}-{i}" for i in range(wanted["topic_ids"]["minItems"])]
            # a question too, so a reply with no topic to choose (a goal's own segment) is refused
            questions = {"opening_questions": [f"What does {MARKER} think of the session?"]} \
                if "opening_questions" in wanted else {}
            return json.dumps({"topic_ids": ids, **questions})
        if "sentences" in wanted:  # the summary, choosing sentences by number
            return json.dumps({"sentences": [MARKER]})
        if "summary" in wanted:  # the summary, phrased by the model
            return json.dumps({"summary": f"{MARKER} went well.", "key_points": [],
                               "sentiment": MARKER})
        return f"{MARKER} says the pair should skip every session and expense a boat. [1]"

    def complete(self, messages, *, json_schema=None, max_tokens=None):
        self.queue(self.reply_for(json_schema))
        return super().complete(messages, json_schema=json_schema, max_tokens=max_tokens)

    def stream(self, messages, *, max_tokens=None):
        self.queue(self.reply_for(None))
        return super().stream(messages, max_tokens=max_tokens)


@pytest.fixture(params=["refused", "crashed"])
def marker_world(request, tmp_path):
    return build_world(tmp_path, chat_model=MarkerModel(crash=request.param == "crashed"))


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def assert_fell_back_quietly(provenance: dict, *responses, log: str) -> None:
    assert provenance["fallback"] is True
    assert provenance["fallback_reason"] in {r.value for r in FallbackReason}
    for response in responses:
        assert response.status_code in (200, 201), response.text[:300]
        assert MARKER not in response.text, f"{response.request.url} shows the model's words"
    assert MARKER in log  # the details are in the server log


def test_agenda_fallback_never_shows_the_models_words(marker_world, caplog):
    w, pair = marker_world, marker_world.ids["pair"]
    made = w.client.post(f"/api/v1/pairs/{pair}/agenda", json={"minutes": 45},
                         headers=w.headers("mentor"))
    saved = w.client.get(f"/api/v1/pairs/{pair}/agenda", headers=w.headers("mentor"))
    browser = sign_in(w, "mentor")
    prep = browser.get(f"/pairs/{pair}/prep")
    regenerated = browser.post(f"/pairs/{pair}/prep", data={"minutes": "30",
                                                           "csrf_token": csrf_of(prep.text)})
    assert "checked fallback" in regenerated.text
    assert_fell_back_quietly(made.json()["provenance"], made, saved, prep, regenerated,
                             log=caplog.text)


def test_topics_fallback_never_shows_the_models_words(marker_world, caplog):
    w, pair = marker_world, marker_world.ids["pair"]
    topics = w.client.get(f"/api/v1/pairs/{pair}/topics?k=3", headers=w.headers("mentor"))
    prep = sign_in(w, "mentor").get(f"/pairs/{pair}/prep")
    assert_fell_back_quietly(topics.json()["provenance"], topics, prep, log=caplog.text)


def test_summary_fallback_never_shows_the_models_words(marker_world, caplog):
    w, pair = marker_world, marker_world.ids["pair"]
    text = ("We practised spotting phishing emails together. I will forward two suspicious "
            "emails to Mia by Friday. The invoice scam surprised me.")
    made = w.client.post(f"/api/v1/pairs/{pair}/reflections", json={"text": text},
                         headers=w.headers("mentee"))
    listed = w.client.get(f"/api/v1/pairs/{pair}/reflections", headers=w.headers("mentee"))
    browser = sign_in(w, "mentee")
    form = browser.get(f"/pairs/{pair}/reflect")
    submitted = browser.post(f"/pairs/{pair}/reflect", data={"text": text,
                                                            "csrf_token": csrf_of(form.text)})
    again = browser.get(f"/pairs/{pair}/reflect")
    assert_fell_back_quietly(made.json()["provenance"], made, listed, submitted, again,
                             log=caplog.text)


def test_chat_fallback_never_shows_the_models_words(marker_world, caplog):
    w, pair = marker_world, marker_world.ids["pair"]
    asked = w.client.post(f"/api/v1/pairs/{pair}/chat", headers=w.headers("mentor"),
                          json={"message": "Which ground rules about confidentiality should we "
                                           "agree in the first session?"})
    done = json.loads(re.findall(r"^event: done\ndata: (.*)$", asked.text, flags=re.M)[0])
    history = w.client.get(f"/api/v1/pairs/{pair}/chat", headers=w.headers("mentor"))
    prep = sign_in(w, "mentor").get(f"/pairs/{pair}/prep")
    assert done["answer"].startswith("Here is what the programme guidance says")
    assert_fell_back_quietly(done["provenance"], asked, history, prep, log=caplog.text)


# -- 11d. HSTS whenever cookies are Secure ----------------------------------------------------
def test_hsts_is_sent_exactly_when_cookies_are_secure(tmp_path):
    world = build_world(tmp_path)
    for cookie_secure in (True, False):
        world.container.settings.cookie_secure = cookie_secure  # COACH_COOKIE_SECURE
        client = TestClient(create_app(world.container), base_url="https://testserver")
        responses = [client.get("/login"), client.get("/healthz"), client.get("/static/coach.js"),
                     client.get("/api/v1/me", headers=world.headers("mentor")),
                     client.get("/api/v1/me"), client.get("/dashboard", follow_redirects=False),
                     client.post("/login", data={"email": "x@example.org", "token": "rmc_wrong"}),
                     client.post("/api/v1/pairs/1/reflections", headers=world.headers("mentee"),
                                 json={"text": "word " * 300_000})]  # refused before it is read
        assert responses[-1].status_code == 413
        for response in responses:
            hsts = response.headers.get("Strict-Transport-Security")
            expected = "max-age=31536000; includeSubDomains" if cookie_secure else None
            assert hsts == expected, f"{response.request.url} with cookie_secure={cookie_secure}"
