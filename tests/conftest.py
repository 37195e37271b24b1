from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from coach.adapters.fakes import HashingEmbedder, InMemoryIndex
from coach.container import Container
from coach.settings import Settings

REPO = Path(__file__).resolve().parent.parent
KNOWLEDGE = REPO / "knowledge"

# The store test suite: every test in these modules that builds a store (through `backend`,
# `settings`, `fake_container` or `fresh_database_url`) runs once per backend, with the backend
# in its id (test_x[sqlite], test_x[postgresql]). Other modules keep the SQLite default.
STORE_TEST_MODULES = frozenset({"test_store", "test_health", "test_concurrency",
                                "test_backup_doctor"})
BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session", autouse=True)
def _sentence_vectors_computed_once():
    """The reader embeds the same demo sentences in every world a test builds. MiniLM is
    deterministic, so each distinct sentence is embedded once per test run; what the reader
    does with the vectors is unchanged."""
    import numpy as np

    from coach.reader import language

    plain = language.embed_with
    seen: dict[tuple[str, str], np.ndarray] = {}

    def embed_with(embedder):
        embed = plain(embedder)
        kind = f"{type(embedder).__name__}/{getattr(embedder, 'dtype', '')}/" \
            f"{getattr(embedder, 'path', '')}"

        def remembered(texts):
            missing = list(dict.fromkeys(t for t in texts if (kind, t) not in seen))
            if missing:
                seen.update(((kind, t), v) for t, v in zip(missing, embed(missing), strict=True))
            if not texts:
                return embed(texts)
            return np.stack([seen[(kind, t)] for t in texts])

        return remembered

    embed_with.uncached = plain  # for a test that must embed exactly as the CLI does
    language.embed_with = embed_with
    yield
    language.embed_with = plain


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "sqlite_only(reason): a store test of SQLite-only behaviour; it runs on "
        "sqlite alone and is listed with its reason at the end of the run")


def pytest_generate_tests(metafunc):
    if "backend" not in metafunc.fixturenames:
        return
    if Path(str(metafunc.module.__file__)).stem not in STORE_TEST_MODULES:
        return
    backends = BACKENDS
    marker = metafunc.definition.get_closest_marker("sqlite_only")
    if marker is not None:
        if not (marker.kwargs.get("reason") or marker.args):
            raise pytest.UsageError(f"{metafunc.definition.nodeid}: sqlite_only needs a reason")
        backends = ("sqlite",)
    metafunc.parametrize("backend", backends, indirect=True)


def pytest_terminal_summary(terminalreporter):
    limited = [(item.nodeid, m.kwargs.get("reason") or m.args[0])
               for item in getattr(terminalreporter.config, "_sqlite_only", [])
               for m in [item.get_closest_marker("sqlite_only")]]
    if limited:
        terminalreporter.section("store tests limited to sqlite")
        for nodeid, reason in limited:
            terminalreporter.line(f"{nodeid}: {reason}")


def pytest_collection_modifyitems(config, items):
    config._sqlite_only = [i for i in items if i.get_closest_marker("sqlite_only")
                           and i.path.stem in STORE_TEST_MODULES]


def make_settings(tmp_path: Path, **overrides) -> Settings:
    values = {"data_dir": tmp_path / "data", "knowledge_dir": KNOWLEDGE, "llm_backend": "none"}
    values.update(overrides)
    return Settings(_env_file=None, **values)


def _memory_dir() -> Path | None:
    """A dir in /dev/shm when it is a roomy tmpfs: a database per test is ~1,000 small files,
    which a disk mounted with `discard` is slow to create and slower to delete."""
    import shutil
    import tempfile

    shm = Path("/dev/shm")
    try:
        if shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 2 << 30:
            return Path(tempfile.mkdtemp(prefix="coach-pg-", dir=shm))
    except OSError:
        pass
    return None  # PostgresCluster's default, under /tmp


@pytest.fixture(scope="session")
def postgres_cluster():
    """One throwaway PostgreSQL cluster for the whole run, started on first use."""
    from tests.servers import PostgresCluster

    problem = None
    try:
        cluster = PostgresCluster(_memory_dir()).start()
    except (RuntimeError, OSError) as exc:
        problem = str(exc)
    if problem is not None:  # a failure, not a skip: the store suite must run on both
        hint = "" if "make postgres" in problem else " (PostgreSQL comes from `make postgres`)"
        pytest.fail(f"The store tests also run on PostgreSQL, which could not start: "
                    f"{problem}{hint}", pytrace=False)
    yield cluster
    cluster.stop()


@pytest.fixture
def backend(request) -> str:
    """The database the store tests run on; parametrised in STORE_TEST_MODULES."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def fresh_database_url(backend, request):
    """Call it for one more empty database of this test's backend: None means SQLite in the
    data directory, otherwise a new PostgreSQL database of the session's cluster."""
    if backend == "sqlite":
        return lambda: None
    cluster = request.getfixturevalue("postgres_cluster")
    return cluster.database


@pytest.fixture
def settings(tmp_path: Path, fresh_database_url) -> Settings:
    return make_settings(tmp_path, database_url=fresh_database_url())


@pytest.fixture
def fake_container(settings: Settings):
    """A real database (SQLite in a temp dir, or PostgreSQL), fake embedder, in-memory index."""
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


@pytest.fixture
def run(fake_container, capsys):
    """Run the CLI on the fake container: run(*argv) gives (exit code, stdout, stderr)."""
    from coach import cli

    cli.set_container(fake_container)

    def invoke(*args):
        code = cli.run(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    yield invoke
    cli.set_container(None)


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory):
    """A data dir as `coach init --demo` leaves it, made once per run (it takes half a minute:
    knowledge/ is embedded and 116 reflections are read); ``demo_data(dest)`` copies it to
    ``dest`` for a test of its own to start from."""
    import shutil
    import subprocess
    import sys

    template = tmp_path_factory.mktemp("demo-template") / "data"
    env = {**os.environ, "COACH_DATA_DIR": str(template), "COACH_LLM_BACKEND": "none"}
    result = subprocess.run([sys.executable, "-m", "coach.cli", "init", "--demo", "--json"],
                            env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]

    def copy(dest: Path) -> Path:
        shutil.copytree(template, dest)
        return dest

    return copy


@pytest.fixture(scope="session")
def real_container(tmp_path_factory):
    """The real embedding model, embedded Chroma and SmolLM2 over knowledge/ and the demo."""
    tmp = tmp_path_factory.mktemp("real")
    c = Container(make_settings(tmp, llm_backend="embedded"))
    c.db.migrate()
    c.ingestor.ingest([KNOWLEDGE])
    from coach.operations.demo import load_demo, summariser_for

    load_demo(c.store, c.writes, summarise=summariser_for(c.store, c.features("none")))
    yield c
    c.close()
