"""Real servers on loopback for the scale-out tests: a throwaway PostgreSQL cluster.

PostgreSQL comes from Debian's packages (`make postgres` installs them). initdb refuses to run
as root, so as root the cluster is owned and run by the `postgres` system user.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout_s: float, process: subprocess.Popen | None = None,
                  what: str = "server") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} before listening")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout_s:.0f} s")


def postgres_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PostgresCluster:
    """initdb + pg_ctl in a temp dir; `database()` hands out a fresh empty database."""

    def __init__(self, root: Path | None = None):
        bindir = postgres_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed: run `make postgres` "
                               "(apt-get install postgresql) first.")
        self.bindir = bindir
        # Its own dir under /tmp: pytest's tmp dirs are 0700, which the postgres user can't enter.
        self.root = root or Path(tempfile.mkdtemp(prefix="coach-pg-"))
        self.data = self.root / "pgdata"
        self.port = free_port()
        self._count = 0
        self._as_postgres = os.geteuid() == 0
        self.root.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
            os.chmod(self.root, 0o755)

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip()[-800:]}")
        return done

    def start(self) -> PostgresCluster:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--encoding=UTF8", "--no-sync")
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"),
                  "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except (RuntimeError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def database(self, name: str | None = None) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        import psycopg

        self._count += 1
        name = name or f"coach_{self._count}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"


def app_with_fake_models():
    """`uvicorn --factory tests.servers:app_with_fake_models`: the real app, settings from the
    environment, with the fake embedder and in-memory index, so a served test needs no model."""
    from api.app import create_app
    from coach.adapters.fakes import HashingEmbedder, InMemoryIndex
    from coach.container import Container
    from coach.settings import Settings

    embedder = HashingEmbedder()
    return create_app(Container(Settings(), embedder=embedder, index=InMemoryIndex(embedder)))
