"""Abuse suite, web security: spreadsheet formulas in CSV exports, thresholds that are not
numbers or make no sense, rejected model output shown to users, and HSTS.

Each test drives the served app (JSON API and pages, signed in the way a browser is) and, where
the feature has one, the CLI."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from fastapi.testclient import TestClient

from coach import cli
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
    store, programme = world.container.store, world.container.programme
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
    assert out.splitlines()[0] == "pair_id,mentor,mentee,focus,status,score,reasons,suggested_actions"
    assert_escaped(cells_of(out))


def test_every_formula_start_is_escaped_and_numbers_are_left_alone():
    from coach.services.csv_export import write_csv

    out = io.StringIO()
    write_csv(out, ["a", "b", "c", "d"], [["\tx", "\r=1+1", "plain - text", -3], ["=1", "@x", "+1", 0]])
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[1] == ["'\tx", "'\r=1+1", "plain - text", "-3"]
    assert rows[2] == ["'=1", "'@x", "'+1", "0"]
