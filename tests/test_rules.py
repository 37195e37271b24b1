"""Each rule that was once written in several places now has one definition: these tests hold
it at its edge, and where two entry points use it, check that they agree."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from pydantic import ValidationError

from coach.adapters.chat_models import make_chat_model
from coach.domain.access import sees_programme
from coach.domain.errors import InvalidInput
from coach.domain.sources import (
    action_item_source,
    goals_source,
    is_pair_scope,
    pair_id_of,
    pair_scope,
    reflection_source,
)
from coach.domain.vocabulary import STAFF_ROLES, Role, SessionStatus
from coach.features.agenda import agenda_markdown
from coach.features.results import Agenda, Provenance, ReflectionResult, Topics, checked
from coach.features.topics import chosen_topics, topic_choice_schema
from coach.generation.guard import Rejected
from tests.api_world import browser, build_world, sign_in
from tests.conftest import make_settings

TODAY = dt.date.today()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("rules"))


# -- thresholds: checked by Monitor.set_thresholds, for the CLI and the API ----------------
def test_a_refused_threshold_is_refused_alike_by_the_cli_and_the_api(world, capsys):
    from coach import cli

    before = world.container.store.get_programme(None).health_thresholds
    cli.set_container(world.container)
    try:
        code = cli.run(["programme", "thresholds", "gap_warn_ratio=-1"])
    finally:
        cli.set_container(None)
    cli_error = capsys.readouterr().err.strip().removeprefix("error: ")
    api = world.client.put("/api/v1/programmes/1/thresholds", headers=world.headers("admin"),
                           json={"health_thresholds": {"gap_warn_ratio": -1}})
    assert code == 1 and api.status_code == 422
    def words(message: str) -> str:  # the CLI hands the rule text, the API JSON numbers
        return " ".join(message.replace("'", "").split())

    assert words(api.json()["error"]["message"]) == words(cli_error)
    assert world.container.store.get_programme(None).health_thresholds == before


def test_thresholds_set_by_the_cli_are_what_the_api_shows(world, capsys):
    from coach import cli

    cli.set_container(world.container)
    try:
        assert cli.run(["programme", "thresholds", "gap_warn_ratio=1.5"]) == 0
        shown = world.client.get("/api/v1/programmes/1", headers=world.headers("admin"))
        assert cli.run(["programme", "thresholds", "gap_warn_ratio="]) == 0
    finally:
        cli.set_container(None)
    capsys.readouterr()
    assert shown.json()["health_thresholds"] == {"gap_warn_ratio": 1.5}
    assert world.container.store.get_programme(None).health_thresholds == {}


# -- the health CSV: csv_export.write_health_csv, for the CLI and the dashboard ----------------
def test_the_cli_and_the_dashboard_export_the_same_escaped_csv(tmp_path, capsys):
    from coach import cli

    w = build_world(tmp_path)
    store = w.container.store
    evil = store.add_person('=HYPERLINK("http://evil.example","x")', "evil@example.org", "mentor",
                            department="Ops")
    newer = store.add_person("Ned Newer", "ned@example.org", "mentee", department="Legal")
    w.container.writes.add_pair(evil.id, newer.id, ["technology"])
    cli.set_container(w.container)
    try:
        assert cli.run(["health", "--format", "csv"]) == 0
    finally:
        cli.set_container(None)
    from_cli = capsys.readouterr().out
    page = w.client.get("/dashboard.csv", headers=w.headers("coordinator"))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/csv")
    assert page.text.replace("\r\n", "\n") == from_cli.replace("\r\n", "\n")
    assert from_cli.splitlines()[0] == ("pair_id,mentor,mentee,focus,status,score,reasons,"
                                        "suggested_actions")
    assert len(from_cli.splitlines()) == 4  # the three pairs
    assert "'=HYPERLINK" in from_cli  # escaped for spreadsheets, in both


# -- the future-session rule: rules.check_session_in_time, for logging and for updating -------
def test_logging_and_updating_refuse_a_future_held_session_in_the_same_words(fake_container,
                                                                            programme):
    _, people = programme
    store = fake_container.store
    pair = fake_container.writes.add_pair(people["mia"].id, people["sam"].id, ["technology"]).pair
    future = TODAY + dt.timedelta(days=3)
    with pytest.raises(InvalidInput) as logged:
        store.log_session(pair.id, future, SessionStatus.held)
    scheduled = store.log_session(pair.id, future, SessionStatus.scheduled)
    with pytest.raises(InvalidInput) as updated:
        store.update_session(pair.id, scheduled.id, status=SessionStatus.held)
    assert logged.value.message == updated.value.message
    assert "in the future" in logged.value.message and "Log it as scheduled" in logged.value.message
    for status in (SessionStatus.cancelled, SessionStatus.scheduled):
        store.log_session(pair.id, future, status)  # these may be ahead of today
    with pytest.raises(InvalidInput):
        store.log_session(pair.id, TODAY, "postponed")  # a status outside SessionStatus


# -- how a pair's records are named: domain.sources ---------------------------------------
def test_a_pairs_scope_and_sources_name_the_pair_and_nothing_else():
    assert pair_scope(12) == "pair:12"
    for source in (goals_source(12), reflection_source(12, 5), action_item_source(12, 7),
                   "pair:12-3f2a"):
        assert is_pair_scope(source) and pair_id_of(source) == 12
    assert not is_pair_scope("knowledge/session-structure.md")
    assert not is_pair_scope("uploads/pair:12.md")


# -- who runs the programme: STAFF_ROLES, for the API and the pages --------------------------
def test_the_staff_roles_alone_see_the_programme_in_the_api_and_the_pages(world):
    for role in ("admin", "coordinator", "mentor", "mentee"):
        staff = Role(role) in STAFF_ROLES
        assert sees_programme(world.container.store.get_person(world.ids[f"person_{role}"])) is staff
        api = world.client.get("/api/v1/health", headers=world.headers(role))
        page = world.client.get("/dashboard", headers=world.headers(role))
        assert (api.status_code == 200) is staff and (page.status_code == 200) is staff
        if not staff:
            assert api.status_code == 403 and page.status_code == 403


# -- membership: access.require_member, for the API and the pages ---------------------------
def test_a_coordinator_is_told_the_same_by_the_api_and_the_pages_about_a_members_task(world):
    pair = world.ids["pair"]
    api = world.client.post(f"/api/v1/pairs/{pair}/reflections",
                            headers=world.headers("coordinator"), json={"text": "Went well."})
    page = world.client.get(f"/pairs/{pair}/reflect", headers=world.headers("coordinator"))
    assert api.status_code == page.status_code == 403
    message = api.json()["error"]["message"]
    assert message in re.sub(r"\s+", " ", page.text.replace("&#39;", "'"))


def test_someone_outside_a_pair_gets_the_same_not_found_from_the_api_and_the_pages(world):
    pair = world.ids["other_pair"]
    api = world.client.get(f"/api/v1/pairs/{pair}", headers=world.headers("mentor"))
    page = world.client.get(f"/pairs/{pair}", headers=world.headers("mentor"))
    missing = world.client.get("/pairs/999999", headers=world.headers("mentor"))
    assert api.status_code == page.status_code == missing.status_code == 404
    assert api.json()["error"]["message"] in page.text


# -- the pages' one error handler --------------------------------------------------------------
def test_a_page_form_without_its_csrf_token_gets_the_error_page(world):
    client = browser(world)
    assert sign_in(client, "mia@example.org", world.container.tokens.issue_setup(
        world.ids["person_mentor"], issued_by=None, label="t").token).status_code == 303
    response = client.post(f"/pairs/{world.ids['pair']}/prep", data={"minutes": "45"},
                           follow_redirects=False)
    assert response.status_code == 403 and response.headers["content-type"].startswith("text/html")
    assert "Reload the page" in response.text


# -- the topic choice: topics.topic_choice_schema and chosen_topics, for agendas and topics ----
def test_a_model_chooses_topics_only_among_the_candidates():
    schema = topic_choice_schema(["b-topic", "a-topic", "c-topic"], 2)
    assert schema["items"]["enum"] == ["a-topic", "b-topic", "c-topic"]
    assert (schema["minItems"], schema["maxItems"], schema["uniqueItems"]) == (2, 2, True)
    candidates = {"a-topic": "A", "b-topic": "B"}
    assert chosen_topics(["b-topic", "a-topic"], candidates) == ["B", "A"]
    with pytest.raises(Rejected):
        chosen_topics(["a-topic", "made-up"], candidates)


# -- the chat model: chat_models.make_chat_model, for the service and the bench ---------------
def test_the_chat_model_is_made_from_settings_in_one_place(tmp_path):
    settings = make_settings(tmp_path)
    assert make_chat_model(settings, "none") is None
    with pytest.raises(InvalidInput, match="Unknown backend 'gpt'"):
        make_chat_model(settings, "gpt")


# -- scratch stores: Container.scratch_store, for the evals, bench and calibration -----------
def test_a_scratch_store_is_migrated_apart_and_removed_afterwards(fake_container, programme):
    with fake_container.scratch_store(sources=()) as scratch:
        folder = scratch.settings.data_dir
        assert folder != fake_container.settings.data_dir and folder.is_dir()
        assert scratch.store.list_programmes() == []
        scratch.store.create_programme("Scratch")
        assert scratch.embedder is fake_container.embedder
    assert not folder.exists()
    assert [p.name for p in fake_container.store.list_programmes()] == ["Pilot"]


# -- results: coach.features.results, for the API schema, the CLI and the Markdown -----------
def test_the_api_publishes_the_features_result_models_as_they_are(world):
    schemas = world.client.get("/openapi.json").json()["components"]["schemas"]
    for model in (Agenda, Topics, ReflectionResult, Provenance):
        assert set(schemas[model.__name__]["properties"]) == set(model.model_fields)


def test_a_result_is_checked_against_its_model_where_the_feature_returns_it(world):
    agenda = world.container.features("none").agenda(world.ids["pair"], 45, save=False)
    assert checked(Agenda, agenda) is agenda
    markdown = agenda_markdown(Agenda.model_validate(agenda))
    assert markdown.startswith("# Session agenda, 45 minutes")
    assert sum(item["minutes"] for item in agenda["items"]) == 45
    assert f"_Backend none; fallback: {agenda['provenance']['fallback']}" in markdown
    drifted = {key: value for key, value in agenda.items() if key != "items"}
    with pytest.raises(ValidationError, match="items"):
        checked(Agenda, drifted)


# -- an author's edit, then the pair index: IndexedWrites.update_reflection, for API and pages --
def test_the_pair_index_follows_a_sharing_change_made_in_the_api_or_on_the_page(tmp_path):
    w = build_world(tmp_path)
    pair, reflection = w.ids["pair"], w.ids["reflection"]

    def indexed() -> bool:
        hits = w.container.retriever.search("spotting phishing emails", 10, pair_id=pair,
                                            kinds=["pair_summary"])
        return reflection_source(pair, reflection) in {h.source for h in hits}

    assert indexed()  # shared with the programme and confirmed by the world
    api = w.client.patch(f"/api/v1/pairs/{pair}/reflections/{reflection}",
                         headers=w.headers("mentee"), json={"visibility": "private"})
    assert api.status_code == 200 and not indexed()
    page = w.client.post(f"/pairs/{pair}/reflections/{reflection}", headers=w.headers("mentee"),
                         data={"visibility": "pair"}, follow_redirects=False)
    assert page.status_code == 303 and indexed()
