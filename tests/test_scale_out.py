"""Scale-out, for real, on loopback: PostgreSQL, a Chroma server (`chroma run`, reached through
HttpClient), llama-cpp-python's OpenAI-compatible server on the packaged SmolLM2 GGUF, and the API
under `coach serve --workers 2` against all three. A bounded load test of 50 simulated users runs
against that stack; its figures, with each process's memory, go to test-artifacts/loadtest.json
(docs/deployment.md quotes them).

Every process runs in its own process group and is killed at teardown; on a failure the tails of
their logs are attached to the report and the full logs copied to test-artifacts/scale-out/.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from coach.generation.guard import FallbackReason
from tests.servers import PostgresCluster, free_port, wait_for_port

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
BIN = Path(sys.executable).parent
USERS, ACTIONS, MODEL_SHARE = 50, 4, 0.12  # 22 model calls: the model server bounds the run
QUERIES = ["how to open the first session and agree ground rules",
           "power balance between a junior mentor and a senior leader",
           "confidentiality of what is said in sessions"]


MEMORY_KEYS = ("rss_kib", "peak_rss_kib", "pss_kib")


def rss_kib(pid: int) -> dict[str, int]:
    """Resident, peak resident (VmHWM) and proportional (PSS: shared pages split between their
    users) memory of one process, from /proc, in KiB."""
    out = {}
    for name, keys in (("status", ("VmRSS", "VmHWM")), ("smaps_rollup", ("Pss",))):
        try:
            for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in keys:
                    out[key] = int(value.split()[0])
        except OSError:
            pass
    return dict(zip(MEMORY_KEYS, (out.get("VmRSS", 0), out.get("VmHWM", 0), out.get("Pss", 0)),
                    strict=True))


def children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            pass
    return kids


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        kids = children(todo.pop())
        found += kids
        todo += kids
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Stack:
    """The four servers and the coach's environment; every process in its own group."""

    def __init__(self, root: Path):
        self.root = root
        self.logs: dict[str, Path] = {}
        self.procs: dict[str, subprocess.Popen] = {}
        self.pg: PostgresCluster | None = None
        self.timings: dict[str, float] = {}

    # -- processes -------------------------------------------------------------------------
    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = self.root / f"{name}.log"
        self.logs[name] = log
        with log.open("ab") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                                    cwd=self.root, start_new_session=True)
        self.procs[name] = proc
        return proc

    def coach(self, *args: str, timeout: float = 300, check: bool = True
              ) -> subprocess.CompletedProcess:
        done = subprocess.run([str(BIN / "coach"), *args], capture_output=True, text=True,
                              check=False, env=self.env, cwd=self.root, timeout=timeout)
        with (self.root / "cli.log").open("a") as log:
            log.write(f"$ coach {' '.join(args)}  -> {done.returncode}\n{done.stderr[-4000:]}\n")
        self.logs["cli"] = self.root / "cli.log"
        assert done.returncode == 0 or not check, \
            f"coach {' '.join(args)} failed:\n{done.stderr[-2000:]}"
        return done

    def start(self) -> None:
        started = time.perf_counter()
        from coach.adapters.llama_cpp_chat import packaged_gguf

        self.pg = PostgresCluster().start()
        self.database_url = self.pg.database("coach")
        self.chroma_port, self.model_port, self.api_port = free_port(), free_port(), free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("COACH_")}
        self.env.update({
            "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "RUST_LOG": "warn",
            "COACH_DATA_DIR": str(self.root / "data"),
            "COACH_KNOWLEDGE_DIR": str(REPO / "knowledge"),
            "COACH_DATABASE_URL": self.database_url,
            "COACH_VECTOR_STORE": f"http://127.0.0.1:{self.chroma_port}",
            "COACH_LLM_BACKEND": "openai",
            "COACH_OPENAI_BASE_URL": f"http://127.0.0.1:{self.model_port}/v1",
            "COACH_OPENAI_MODEL": "smollm2",
            "COACH_OPENAI_JSON_METHOD": "json_object",
            "COACH_SUMMARY_MODE": "choose",  # SmolLM2 behind the server: choose, as embedded
            "COACH_OPENAI_TIMEOUT_S": "600",
            "COACH_SECRET_KEY": "scale-out-test-shared-secret-key-0123456789",
            "COACH_COOKIE_SECURE": "false",
        })
        chroma = self.spawn("chroma", [str(BIN / "chroma"), "run", "--path",
                                       str(self.root / "chroma"), "--host", "127.0.0.1",
                                       "--port", str(self.chroma_port)])
        model = self.spawn("llama-server", [
            sys.executable, "-m", "llama_cpp.server", "--model", str(packaged_gguf()),
            "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(self.model_port),
            "--n_ctx", "4096", "--n_threads", "2", "--n_threads_batch", "2",
            "--interrupt_requests", "False", "--verbose", "False"])
        wait_for_port(self.chroma_port, 60, chroma, "chroma run")
        wait_for_port(self.model_port, 120, model, "llama_cpp.server")
        self.timings["servers_s"] = time.perf_counter() - started

        mark = time.perf_counter()
        self.init = json.loads(self.coach("init", "--demo", "--json").stdout)
        self.timings["init_demo_s"] = time.perf_counter() - mark

        mark = time.perf_counter()
        self.serve = self.spawn("coach-serve", [str(BIN / "coach"), "serve", "--host",
                                                "127.0.0.1", "--port", str(self.api_port),
                                                "--workers", "2"])
        wait_for_port(self.api_port, 120, self.serve, "coach serve")
        self.wait_ready(300)
        self.timings["serve_ready_s"] = time.perf_counter() - mark
        self.timings["stack_ready_s"] = time.perf_counter() - started

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def wait_ready(self, timeout_s: float) -> None:
        """The socket is the parent's: it accepts before the workers have warmed up."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.serve.poll() is not None:
                raise RuntimeError(f"coach serve exited with {self.serve.returncode}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200 and \
                        len(self.workers()) == 2:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"coach serve was not ready within {timeout_s:.0f} s")

    def workers(self) -> list[int]:
        return [pid for pid in children(self.serve.pid) if "spawn_main" in cmdline(pid)]

    def memory(self) -> dict[str, dict[str, int]]:
        """RSS now and at peak (VmHWM) of every process of the stack, in KiB."""
        out: dict[str, dict[str, int]] = {}
        postmaster = int((self.pg.data / "postmaster.pid").read_text().split()[0])
        pg_pids = [postmaster, *descendants(postmaster)]
        figures = [rss_kib(p) for p in pg_pids]
        out[f"postgresql ({len(pg_pids)} processes)"] = {
            k: sum(f[k] for f in figures) for k in MEMORY_KEYS}
        out["chroma run"] = rss_kib(self.procs["chroma"].pid)
        out["llama_cpp.server"] = rss_kib(self.procs["llama-server"].pid)
        out["coach serve (parent)"] = rss_kib(self.serve.pid)
        for n, pid in enumerate(sorted(self.workers()), 1):
            out[f"uvicorn worker {n}"] = rss_kib(pid)
        return out

    def token_for(self, role: str) -> str:
        return next(t for t in self.tokens if t["as"] == role)["token"]

    def make_tokens(self) -> list[dict]:
        """One fresh token for every coordinator, mentor and mentee of the demo (what a loop of
        `coach tokens create EMAIL --json` does, without 22 process start-ups)."""
        from coach.store.credentials import TokenService
        from coach.store.db import Database
        from coach.store.repository import Store

        db = Database(self.database_url)
        try:
            store, tokens = Store(db), TokenService(db)
            self.tokens = [{"as": p.role, "email": p.email,
                            "token": tokens.issue_personal(p.id, "load test").token}
                           for p in store.list_people() if p.role != "admin"]
        finally:
            db.dispose()
        return self.tokens

    # -- teardown and reporting ----------------------------------------------------------------
    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                continue
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the group: workers and stragglers too
            except (ProcessLookupError, PermissionError):
                pass
            if proc.poll() is None:
                proc.wait(timeout=10)
        if self.pg is not None:
            self.pg.stop()

    def log_tails(self, lines: int = 40) -> str:
        parts = []
        for name, path in self.logs.items():
            try:
                text = path.read_text(errors="replace").splitlines()[-lines:]
            except OSError:
                continue
            parts.append(f"----- {name} ({path}) -----\n" + "\n".join(text))
        return "\n".join(parts)

    def keep_logs(self) -> Path:
        target = ARTIFACTS / "scale-out"
        target.mkdir(parents=True, exist_ok=True)
        for name, path in self.logs.items():
            if path.exists():
                shutil.copy(path, target / f"{name}.log")
        return target


@pytest.fixture(scope="module")
def stack():
    root = Path(tempfile.mkdtemp(prefix="coach-scale-"))
    s = Stack(root)
    try:
        try:
            s.start()
        except BaseException as exc:
            kept = s.keep_logs()
            raise RuntimeError(f"The scale-out stack did not start: {exc}\nLogs in {kept}\n"
                               f"{s.log_tails()}") from exc
        s.make_tokens()
        yield s
    finally:
        s.stop()
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def logs_on_failure(request, s: Stack):
    try:
        yield
    except BaseException:
        kept = s.keep_logs()
        request.node.add_report_section("call", "stack logs", f"(full logs in {kept})\n"
                                        + s.log_tails())
        raise


def test_two_workers_serve_an_agenda_from_the_openai_backend(stack, request):
    with logs_on_failure(request, stack):
        assert len(stack.workers()) == 2, "coach serve --workers 2 should run two worker processes"
        assert stack.init["demo"]["pairs"] == 10
        headers = {"Authorization": f"Bearer {stack.token_for('mentor')}"}
        pairs = httpx.get(f"{stack.url}/api/v1/pairs", headers=headers, timeout=30).json()["items"]
        r = httpx.post(f"{stack.url}/api/v1/pairs/{pairs[0]['id']}/agenda", headers=headers,
                       json={"save": False}, timeout=600)
        assert r.status_code == 200, r.text
        provenance = r.json()["provenance"]
        assert provenance["backend"] == "openai"
        # The model answered (tokens counted); a fallback may only be a validation refusal.
        assert provenance["tokens"] > 0, provenance
        assert provenance["fallback_reason"] != FallbackReason.MODEL_FAILED, provenance
        assert any(src.startswith("knowledge/") for src in provenance["sources"])


def test_fifty_users_no_errors_no_lost_writes(stack, request):
    from tools.loadtest import LoadTest

    with logs_on_failure(request, stack):
        cpu_before = {pid: cpu_seconds(pid) for pid in stack.workers()}
        test = LoadTest(stack.url, [t["token"] for t in stack.tokens], users=USERS,
                        actions=ACTIONS, model_share=MODEL_SHARE, timeout_s=600, seed=7)
        result = test.run()
        data = result.to_dict()
        cpu = {str(pid): round(cpu_seconds(pid) - before, 2) for pid, before in cpu_before.items()}

        # Lost writes, checked in PostgreSQL itself as well as through the API.
        import psycopg

        acknowledged = {r["id"]: r["text"] for r in test.reflections}
        dsn = stack.database_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn) as conn:
            stored = dict(conn.execute("SELECT id, text FROM reflections WHERE id = ANY(%s)",
                                       (list(acknowledged),)).fetchall())
            duplicates = conn.execute(
                "SELECT pair_id, date, count(*) FROM sessions WHERE status = 'scheduled' "
                "GROUP BY pair_id, date HAVING count(*) > 1").fetchall()
        missing_in_db = [rid for rid, text in acknowledged.items()
                         if " ".join(stored.get(rid, "").split()) != " ".join(text.split())]
        doctor = json.loads(stack.coach("doctor", "--json", check=False).stdout)

        data.update({
            "stack": {"database": "PostgreSQL (Debian packages, one cluster)",
                      "vector_store": "chroma run (HttpClient)",
                      "model": "llama_cpp.server, SmolLM2-135M-Instruct Q4_1, n_threads=2",
                      "api": "coach serve --workers 2", "cores": os.cpu_count()},
            "model_share": MODEL_SHARE,
            "worker_cpu_s": cpu,
            "memory_kib": stack.memory(),
            "postgres_check": {"acknowledged": len(acknowledged),
                               "missing_or_different": missing_in_db},
            "duplicate_scheduled_sessions": [list(map(str, d)) for d in duplicates],
            "doctor": {"ok": doctor["ok"], "findings": doctor["findings"]},
            "startup_s": {k: round(v, 1) for k, v in stack.timings.items()},
        })
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "loadtest.json").write_text(json.dumps(data, indent=2), encoding="utf-8")

        assert data["errors"] == 0, data["error_examples"]
        assert data["lost_writes"] == 0, data["writes"]["lost_examples"]
        assert not missing_in_db, f"reflections acknowledged but not in PostgreSQL: {missing_in_db}"
        assert data["writes"]["reflections_acknowledged"] >= 5
        assert data["writes"]["agendas_acknowledged"] >= 5
        assert data["requests"] == USERS * ACTIONS
        transport = [r for r in test.reflections + test.agendas
                     if r["provenance"].get("fallback_reason") == FallbackReason.MODEL_FAILED]
        assert not transport, f"model server failures under load: {transport[:3]}"
        assert all(v > 0.1 for v in cpu.values()), f"both workers should have served: {cpu}"
        assert doctor["ok"], doctor["findings"]


def test_demo_signin_tokens_drive_the_loadtest_command(stack, request):
    """The documented path: `coach demo-signin --json` as the tokens file of `coach loadtest`."""
    with logs_on_failure(request, stack):
        tokens = stack.root / "demo-tokens.json"
        tokens.write_text(stack.coach("demo-signin", "--json").stdout)
        figures = stack.root / "small.json"
        stack.coach("loadtest", "--url", stack.url, "--tokens", str(tokens), "--users", "6",
                    "--actions", "2", "--model-share", "0", "--json", str(figures))
        data = json.loads(figures.read_text())
        assert data["ok"] and data["requests"] == 12 and data["identities"] == {
            "coordinator": 1, "mentor": 1, "mentee": 1}


def test_chroma_server_retrieval_matches_an_in_process_index(stack, request):
    """The same top sources through the Chroma server as by exact search in this process."""
    from coach.adapters.chroma_index import ChromaIndex
    from coach.adapters.embeddings import make_embedder
    from coach.adapters.fakes import InMemoryIndex
    from coach.ports import Chunk
    from coach.retrieval.hybrid import HybridRetriever

    with logs_on_failure(request, stack):
        embedder = make_embedder(None)
        served = ChromaIndex(embedder, stack.env["COACH_VECTOR_STORE"], "coach")
        everything = served.collection.get(include=["documents", "metadatas", "embeddings"])
        local = InMemoryIndex(embedder)
        for cid, doc, meta, vector in zip(everything["ids"], everything["documents"],
                                          everything["metadatas"], everything["embeddings"],
                                          strict=True):
            local._chunks[cid] = Chunk(cid, doc or "", dict(meta or {}))
            local._vectors[cid] = [float(x) for x in vector]
        assert local.count() == served.count() > 200  # the knowledge base and the demo pairs
        remote, here = HybridRetriever(served), HybridRetriever(local)
        for query in QUERIES:
            got = [h.source for h in remote.search(query, 5)]
            want = [h.source for h in here.search(query, 5)]
            assert got[:3] == want[:3], (query, got, want)
            assert set(got) == set(want), (query, got, want)
