"""Engine, sessions and migrations. SQLite gets WAL and foreign keys; PostgreSQL works by URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The PostgreSQL advisory lock that serialises migrations (any fixed 64-bit number).
MIGRATION_LOCK_KEY = 0x636F6163685F6462  # "coach_db"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` with Alembic (idempotent)."""
    _alembic(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to ``revision`` ("base" drops every table)."""
    _alembic(engine, "downgrade", revision)


def _alembic(engine: Engine, action: str, revision: str) -> None:
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # pysqlite only opens a transaction before DML; open one explicitly so a migration
            # killed half-way rolls back whole instead of leaving tables without a revision.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif connection.dialect.name == "postgresql":
            # DDL is transactional here, so the whole run is one transaction already; workers
            # starting together queue on this lock (freed at commit or rollback) and the later
            # ones then find the schema at the revision and do nothing.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": MIGRATION_LOCK_KEY})
        cfg.attributes["connection"] = connection
        getattr(command, action)(cfg, revision)
        connection.commit()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() or ""


def is_initialised(engine: Engine) -> bool:
    return inspect(engine).has_table("pairs")


class Database:
    """Owns the engine and hands out unit-of-work sessions."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: commits on success, rolls back on any error."""
        session = self._factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def migrate(self) -> None:
        migrate(self.engine)

    def integrity_problems(self) -> list[str]:
        """What the database engine's own checks find wrong (SQLite's; PostgreSQL enforces its
        constraints as it writes), each as a sentence."""
        problems = []
        with self.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                status = conn.execute(text("PRAGMA integrity_check")).scalar()
                if status != "ok":
                    problems.append(f"SQLite integrity_check: {status}")
                broken = conn.execute(text("PRAGMA foreign_key_check")).all()
                if broken:
                    problems.append(f"{len(broken)} rows break foreign keys")
        return problems

    def dispose(self) -> None:
        self.engine.dispose()
