"""A small programme behind the real app, with fakes for the models."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from fastapi.testclient import TestClient

from api.app import create_app
from coach.adapters.fakes import HashingEmbedder, InMemoryIndex
from coach.container import Container
from coach.store.credentials import TokenService
from tests.conftest import make_settings

TODAY = dt.date.today()


@dataclass
class World:
    container: Container
    client: TestClient
    tokens: dict[str, str]
    ids: dict[str, int]

    def headers(self, role: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}

    def run_jobs(self) -> int:
        """Run the queued ingestion jobs now, in this thread: a TestClient used without `with`
        starts no lifespan, so no background runner."""
        return self.container.ingest_runner.run_pending()


def build_world(tmp_path, chat_model=None) -> World:
    """``chat_model`` (a fake) serves the coach's features as the embedded backend; without
    one the composers work alone. The world's own reflections never call it."""
    embedder = HashingEmbedder()
    backend = "none" if chat_model is None else "embedded"
    c = Container(make_settings(tmp_path, llm_backend=backend), embedder=embedder,
                  index=InMemoryIndex(embedder), chat_model=chat_model)
    c.db.migrate()
    c.ingestor.ingest([c.settings.knowledge_dir])
    s = c.store
    s.create_programme("Pilot")
    people = {
        "admin": s.add_person("Ada Admin", "admin@example.org", "admin", department="IT"),
        "coordinator": s.add_person("Cora Coord", "cora@example.org", "coordinator", department="People"),
        "mentor": s.add_person("Mia Mentor", "mia@example.org", "mentor", department="Data"),
        "mentee": s.add_person("Sam Senior", "sam@example.org", "mentee", department="Finance"),
        "other_mentor": s.add_person("Raj Other", "raj@example.org", "mentor", department="Design"),
        "other_mentee": s.add_person("Eve Other", "eve@example.org", "mentee", department="Sales"),
    }
    spare = s.add_person("Sol Spare", "sol@example.org", "mentee", department="Legal")
    pair = c.writes.add_pair(people["mentor"].id, people["mentee"].id, ["technology"],
                                goals=["Spot phishing aimed at finance"],
                                starts_on=TODAY - dt.timedelta(days=60)).pair
    other = c.writes.add_pair(people["other_mentor"].id, people["other_mentee"].id,
                                 ["inclusion"], goals=["Run inclusive sales meetings"],
                                 starts_on=TODAY - dt.timedelta(days=60)).pair
    held = s.log_session(pair.id, TODAY - dt.timedelta(days=7), "held")
    other_held = s.log_session(other.id, TODAY - dt.timedelta(days=7), "held")
    coach = c.features("none")
    shared = coach.reflect(pair.id, held.id, people["mentee"].id,
                           "We practised spotting phishing emails. I will forward two suspicious "
                           "emails to Mia by Friday.", visibility="programme")
    c.writes.update_reflection(pair.id, shared["reflection_id"], confirmed=True)
    private = coach.reflect(pair.id, held.id, people["mentee"].id,
                            "PRIVATE-WORDS: I felt awkward and unsure about the whole thing.",
                            visibility="private")
    other_reflection = coach.reflect(other.id, other_held.id, people["other_mentee"].id,
                                     "OTHER-PAIR-WORDS: we discussed inclusive meetings.",
                                     visibility="pair")
    item = s.add_action_item(pair.id, "Bring two examples", "mentee")
    other_item = s.add_action_item(other.id, "Bring the meeting agenda", "mentee")
    tokens = TokenService(c.db)
    # Each person's own token, as if they had signed in once and made one.
    world_tokens = {role: tokens.issue_personal(p.id, "test").token for role, p in people.items()}
    spare_token = tokens.issue_personal(people["mentor"].id, "spare").token_id
    spare_sign_in = tokens.issue_personal(people["mentor"].id, "laptop").token
    tokens.sign_in("mia@example.org", spare_sign_in)
    spare_session = tokens.credentials(people["mentor"].id)["sessions"][0]["id"]
    ids = {"pair": pair.id, "other_pair": other.id, "session": held.id, "other_session": other_held.id,
           "reflection": shared["reflection_id"], "private_reflection": private["reflection_id"],
           "other_reflection": other_reflection["reflection_id"], "item": item.id,
           "other_item": other_item.id, "goal": pair.goals[0].id, "other_goal": other.goals[0].id,
           "spare_token": spare_token, "spare_session": spare_session, "person_spare": spare.id,
           **{f"person_{r}": p.id for r, p in people.items()}}
    return World(c, TestClient(create_app(c)), world_tokens, ids)


def sign_in(client: TestClient, email: str, token: str, *, next: str = "/"):
    """Sign in through the page as a browser does: load the form (which sets the sign-in
    nonce cookie), then post it with its CSRF token. The client's base URL must be https
    for the Secure cookies to come back."""
    import re

    form = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    return client.post("/login", data={"email": email, "token": token, "next": next,
                                       "csrf_token": csrf}, follow_redirects=False)


def browser(world: World) -> TestClient:
    """A client of the world's app that keeps cookies like a browser on https."""
    return TestClient(world.client.app, base_url="https://testserver")
