"""Three journeys in real headless Chromium against the real server (uvicorn, SQLite, Chroma,
the embedded model). Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.servers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.browser]

REPO = Path(__file__).resolve().parent.parent
SHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("COACH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def coach(env, *args) -> str:
    result = subprocess.run([sys.executable, "-m", "coach.cli", *args], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory, demo_data):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not at {CHROMIUM}; `make test` installs it (apt-get install chromium).")
    data = demo_data(tmp_path_factory.mktemp("browser") / "data")  # after `coach init --demo`
    env = {**os.environ, "COACH_DATA_DIR": str(data), "COACH_LLM_BACKEND": "embedded",
           "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    people = {row["as"]: row for row in json.loads(coach(env, "demo-signin", "--json"))}
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "coach.cli", "serve", "--port", str(port)],
                            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("the server did not start: " + proc.stdout.read().decode()[-2000:])
    yield {"base": base, "people": people, "env": env}
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def one_time_token(server, who) -> str:
    """A fresh one-time sign-in token, as an operator hands one out (each works once)."""
    email = server["people"][who]["email"]
    return json.loads(coach(server["env"], "tokens", "create", email, "--reads-history",
                            "--json"))["token"]


def signed_in(browser, server, who):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(120_000)  # the embedded model on a busy 2-core machine
    page = context.new_page()
    person = server["people"][who]
    page.goto(server["base"] + "/login")
    page.get_by_label("Email").fill(person["email"])
    page.get_by_label("Access token").fill(one_time_token(server, who))
    with page.expect_navigation():  # the sign-in redirect has landed before anyone reads the page
        page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")
    return context, page


def test_mentor_prepares_an_agenda(browser, server):
    context, page = signed_in(browser, server, "mentor")
    assert re.search(r"/pairs/\d+/prep$", page.url), page.url
    page.get_by_label("Session length (minutes, 15 to 120)").fill("30")
    page.get_by_role("button", name=re.compile("agenda")).click()
    from playwright.sync_api import expect

    expect(page.locator("#agenda-progress")).to_have_text(re.compile(r"^Ready in"), timeout=120_000)
    items = page.locator("#agenda-items > li")
    assert items.count() >= 5
    minutes = sum(int(m.split()[0]) for m in page.locator("#agenda-items .mins").all_text_contents())
    assert minutes == 30
    assert "Sources:" in page.locator("#agenda-body").text_content()
    page.screenshot(path=str(SHOTS / "mentor-agenda.png"), full_page=True)
    # The mentor leads with another of the listed alternatives; the agenda is rebuilt around it.
    lead = page.get_by_label("Lead the session with")
    expect(lead).to_be_visible()
    main = page.locator("#agenda-items > li.topic strong").first.text_content().strip()
    titles = lead.locator("option").all_text_contents()
    other = next(t for t in titles[1:] if t != main and not t.startswith("Your goal"))
    lead.select_option(label=other)
    page.get_by_role("button", name=re.compile("agenda")).click()
    expect(page.locator("#agenda-items > li.topic strong").first).to_have_text(other, timeout=120_000)
    assert "Led with what you chose." in page.locator("#agenda-body").text_content()
    # The agenda is saved: a reload shows it, and what was chosen, without generating again.
    page.reload()
    assert page.locator("#agenda-items > li").count() == items.count()
    expect(page.get_by_label("Lead the session with")).to_have_value(re.compile(r"\S"))
    context.close()


def test_mentee_submits_a_reflection_and_sees_the_summary(browser, server):
    context, page = signed_in(browser, server, "mentee")
    assert re.search(r"/pairs/\d+/reflect$", page.url), page.url
    page.get_by_label("What did you learn, what will you do, what got in the way?").fill(
        "Amara showed me how to check an AI summary against the source report, and I caught two "
        "wrong figures myself. I will use the assistant to draft next month's board update by "
        "Friday. We had to cut the session short because of a budget call.")
    with page.expect_navigation(timeout=120_000):
        page.get_by_role("button", name="Summarise and save").click()
    page.wait_for_selector("#summary", timeout=120_000)
    assert page.locator("#summary-text").text_content().strip()
    actions = " ".join(page.locator("#summary-actions input[name=item_text]").evaluate_all(
        "inputs => inputs.map(i => i.value)"))
    assert "board update" in actions
    blockers = " ".join(page.locator("#summary-blockers input").evaluate_all(
        "inputs => inputs.map(i => i.value)"))
    assert "budget call" in blockers  # the author could correct it before confirming
    page.screenshot(path=str(SHOTS / "mentee-summary.png"), full_page=True)
    page.locator("#summary").get_by_label(re.compile("Only me")).check()
    page.get_by_role("button", name="Confirm summary").click()
    page.wait_for_load_state("networkidle")
    assert "only you" in page.locator("#saved").text_content()
    context.close()


def test_coordinator_sees_a_stalled_pair_and_cannot_open_its_reflections(browser, server):
    demo = yaml.safe_load((REPO / "coach" / "demo_data" / "demo_programme.yaml").read_text())
    stalled_keys = [p for p in demo["pairs"] if p["expected_health"] == "stalled"]
    reflections = [r for p in demo["pairs"] for s in p.get("sessions", [])
                   for r in s.get("reflections", []) or []]
    # A summary shared with the programme may quote the reflection (it is extractive and
    # faithful); the whole raw text, and any sentence of a reflection not shared with the
    # programme, must never appear.
    whole_texts = [" ".join(r["text"].split()) for r in reflections]
    private_sentences = [" ".join(s.split()) for r in reflections
                         if r.get("visibility", "private") != "programme"
                         for s in r["text"].split(".") if len(s.strip()) > 25]
    context, page = signed_in(browser, server, "coordinator")
    assert page.url.endswith("/dashboard")
    assert int(page.locator("#count-stalled").text_content()) >= len(stalled_keys) - 1
    row = page.locator("#risk-table tbody tr.stalled").first
    assert "Stalled" in row.text_content()
    assert "days since the last held session" in row.text_content()
    assert row.locator("details summary").count() >= 1
    page.screenshot(path=str(SHOTS / "coordinator-dashboard.png"), full_page=True)
    href = row.locator("a").first.get_attribute("href")
    pair_id = href.rstrip("/").split("/")[-1]
    page.goto(server["base"] + href)
    body = " ".join(page.locator("main").text_content().split())
    assert not any(t in body for t in whole_texts), "a whole raw reflection on the pair page"
    assert not any(t in body for t in private_sentences), "private words on the pair page"
    page.screenshot(path=str(SHOTS / "coordinator-pair.png"), full_page=True)
    response = page.goto(f"{server['base']}/pairs/{pair_id}/reflect")
    assert response.status == 403
    page.screenshot(path=str(SHOTS / "coordinator-reflections-refused.png"))
    api = page.request.get(f"{server['base']}/api/v1/pairs/{pair_id}/reflections")
    assert api.status == 200
    assert all(item["text"] is None for item in api.json()["items"])
    context.close()


def test_pages_are_readable_on_a_phone(browser, server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    person = server["people"]["coordinator"]
    page.goto(server["base"] + "/login")
    page.get_by_label("Email").fill(person["email"])
    page.get_by_label("Access token").fill(one_time_token(server, "coordinator"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/dashboard")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"the dashboard scrolls sideways on a phone ({width}px)"
    page.screenshot(path=str(SHOTS / "coordinator-dashboard-phone.png"), full_page=True)
    context.close()
