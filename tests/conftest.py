from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from coach.container import Container  # noqa: E402
from coach.fakes import HashingEmbedder, InMemoryIndex  # noqa: E402
from coach.settings import Settings  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
KNOWLEDGE = REPO / "knowledge"


def make_settings(tmp_path: Path, **overrides) -> Settings:
    values = {"data_dir": tmp_path / "data", "knowledge_dir": KNOWLEDGE, "llm_backend": "none"}
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def fake_container(settings: Settings):
    """Real SQLite in a temp dir, fake embedder and in-memory index."""
    embedder = HashingEmbedder()
    c = Container(settings, embedder=embedder, index=InMemoryIndex(embedder))
    c.db.migrate()
    yield c
    c.close()


@pytest.fixture
def programme(fake_container):
    store = fake_container.store
    prog = store.create_programme("Pilot", default_cadence_days=14, default_session_minutes=45)
    people = {
        "mia": store.add_person("Mia Chen", "mia@example.org", "mentor", department="Data"),
        "raj": store.add_person("Raj Patel", "raj@example.org", "mentor", department="Design"),
        "sam": store.add_person("Sam Okoro", "sam@example.org", "mentee", department="Finance"),
        "eve": store.add_person("Eve Laurent", "eve@example.org", "mentee", department="Sales"),
        "cora": store.add_person("Cora Diaz", "cora@example.org", "coordinator", department="People"),
    }
    return prog, people


@pytest.fixture(scope="session")
def real_container(tmp_path_factory):
    """The real embedding model, embedded Chroma and SmolLM2 over knowledge/ and the demo."""
    tmp = tmp_path_factory.mktemp("real")
    c = Container(make_settings(tmp, llm_backend="embedded"))
    c.db.migrate()
    c.ingestor.ingest([KNOWLEDGE])
    from coach.demo import load_demo, summariser_for

    load_demo(c.store, c.programme, summarise=summariser_for(c.store, c.coach("none")))
    yield c
    c.close()
