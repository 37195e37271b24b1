"""Ingestion off the request path: uploads and re-ingests become jobs that a runner works through.

A request only stages the upload (written aside, then renamed into place) and queues a job, so
it answers at once. Each served process runs one IngestRunner thread. The runner claims queued
jobs from the database (one at a time across all workers), reads each file in a child process
with a time limit (coach.ingest.isolation), chunks and embeds in its own thread, and records
the report, or a one-line error. A refused upload never reaches the uploads folder or the index.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import secrets
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from coach.domain.errors import CoachError, InvalidInput, TooLarge, UnsupportedType
from coach.ingest.ingest import Ingestor, IngestReport
from coach.ingest.isolation import ReadInterrupted
from coach.ingest.loaders import SUPPORTED, SUPPORTED_HINT, UnreadableFile
from coach.store.ingest_jobs import IngestJobRecord, IngestJobStore, one_line
from coach.store.models import utcnow

log = logging.getLogger("coach.ingest")

INCOMING = ".incoming"        # staged uploads, inside the uploads folder (hidden: never ingested)
REINGEST_NAME = "knowledge/ and uploads/"
POLL_SECONDS = 1.0            # an idle runner looks for jobs queued by other workers this often
HEARTBEAT_SECONDS = 5.0
STALE_AFTER_SECONDS = 60.0    # a running job without a heartbeat for this long is abandoned
RECOVER_EVERY_SECONDS = 30.0
MAX_RETRY_SECONDS = 60.0      # between tries while the database fails (say, not migrated yet)
_HOST = socket.gethostname()
_live_runners: set[str] = set()  # runner names in this process, to tell our own jobs apart


def safe_upload_name(filename: str) -> str:
    """A file name that is safe on any file system and cannot leave the uploads folder."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(filename or "upload").name).strip(".-")[:120]
    return stem or "upload"


class IngestJobs:
    """What the API offers: submit an upload or a re-ingest, and read jobs back."""

    def __init__(self, store: IngestJobStore, uploads_dir: Path, max_upload_bytes: int,
                 on_submit: Callable[[], None] | None = None):
        self.store = store
        self.uploads_dir = uploads_dir
        self.max_upload_bytes = max_upload_bytes
        self.on_submit = on_submit

    def submit_upload(self, filename: str, data: bytes,
                      requested_by_id: int | None = None) -> IngestJobRecord:
        """Stage ``data`` and queue its ingestion. Only what is cheap to check is checked here;
        reading the document is the job's work."""
        name = safe_upload_name(filename)
        suffix = Path(name).suffix.lower()
        if suffix not in SUPPORTED:
            raise UnsupportedType(f"{filename!r} is not a supported document; {SUPPORTED_HINT}.")
        if len(data) > self.max_upload_bytes:
            raise TooLarge(f"The upload is over {self.max_upload_bytes:,} bytes.")
        if not data.strip():
            raise InvalidInput(f"{name}: the file is empty.")
        staging = self.uploads_dir / INCOMING / uuid.uuid4().hex
        staging.mkdir(parents=True)
        staged = staging / name
        try:
            partial = staging / f".{name}.part"
            partial.write_bytes(data)
            partial.replace(staged)  # atomic: a job never sees half a file
            job = self.store.create("upload", f"uploads/{name}", str(staged.resolve()),
                                    requested_by_id)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self._notify()
        return job

    def submit_reingest(self, requested_by_id: int | None = None) -> IngestJobRecord:
        job = self.store.create("reingest", REINGEST_NAME, None, requested_by_id)
        self._notify()
        return job

    def get(self, job_id: int) -> IngestJobRecord:
        return self.store.get(job_id)

    def page(self, limit: int, offset: int) -> tuple[list[IngestJobRecord], int]:
        return self.store.page(limit, offset)

    def _notify(self) -> None:
        if self.on_submit is not None:
            self.on_submit()


class _RunnerStopping(Exception):
    """The runner is stopping: the job goes back to the queue."""


class _Heartbeat:
    """Marks a running job alive every few seconds, whatever the runner thread is blocked on."""

    def __init__(self, store: IngestJobStore, job_id: int, worker: str):
        self.store, self.job_id, self.worker = store, job_id, worker
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True,
                                        name=f"coach-ingest-heartbeat-{job_id}")

    def _beat(self) -> None:
        while not self._done.wait(HEARTBEAT_SECONDS):
            try:
                self.store.heartbeat(self.job_id, self.worker)
            except Exception as exc:  # a database blip: the next beat tries again
                log.warning("Ingestion job %s heartbeat failed: %s", self.job_id, exc)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._done.set()
        self._thread.join(timeout=HEARTBEAT_SECONDS)


class IngestRunner:
    """Works through queued ingestion jobs in one background thread of this process."""

    def __init__(self, store: IngestJobStore, ingestor: Callable[[], Ingestor],
                 knowledge_dir: Path, uploads_dir: Path):
        self.store = store
        self._ingestor = ingestor
        self.knowledge_dir = knowledge_dir
        self.uploads_dir = uploads_dir
        self.worker = f"{_HOST}:{os.getpid()}:{secrets.token_hex(4)}"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_recovery = 0.0

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        _live_runners.add(self.worker)
        self._thread = threading.Thread(target=self._loop, daemon=True, name="coach-ingest")
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current step; a job in progress goes back to the queue."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None
        _live_runners.discard(self.worker)

    def wake(self) -> None:
        """A job was queued in this process: look now rather than at the next poll."""
        self._wake.set()

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                if time.monotonic() - self._last_recovery >= RECOVER_EVERY_SECONDS:
                    self.recover_abandoned()
                self._wake.clear()  # before looking, so a job queued meanwhile is not missed
                worked = self.run_once()
                failures = 0
            except Exception as exc:  # the database is away, say: keep the thread, retry later
                failures += 1
                retry = min(POLL_SECONDS * 2 ** failures, MAX_RETRY_SECONDS)
                if failures == 1:
                    log.exception("The ingestion runner hit an error; it retries in %.0f s", retry)
                else:
                    log.warning("The ingestion runner still fails (%s: %s); next try in %.0f s",
                                exc.__class__.__name__, exc, retry)
                self._stop.wait(retry)
                continue
            if not worked:
                self._wake.wait(POLL_SECONDS)

    # -- jobs ------------------------------------------------------------------------------------
    def run_pending(self) -> int:
        """Run queued jobs in the calling thread until none is left; how many ran."""
        _live_runners.add(self.worker)
        ran = 0
        while self.run_once():
            ran += 1
        return ran

    def run_once(self) -> bool:
        job = self.store.claim_next(self.worker)
        if job is None:
            return False
        self._run(job)
        return True

    def _run(self, job: IngestJobRecord) -> None:
        log.info("Ingestion job %s (%s %s) started", job.id, job.kind, job.name)
        with _Heartbeat(self.store, job.id, self.worker):
            try:
                report = self._execute(job)
            except (ReadInterrupted, _RunnerStopping):
                self.store.requeue(job.id, self.worker)
                log.info("Ingestion job %s handed back to the queue (stopping)", job.id)
                return
            except UnreadableFile as exc:
                self._finish_failed(job, f"{job.name}: {exc}")
            except CoachError as exc:  # e.g. the knowledge folder is missing
                self._finish_failed(job, f"{job.name}: {exc.message}")
            except Exception as exc:  # nothing a file does may stop the runner
                log.exception("Ingestion job %s failed", job.id)
                self._finish_failed(job, f"{job.name}: ingestion failed ({exc.__class__.__name__}:"
                                         f" {exc})")
            else:
                self.store.finish(job.id, self.worker, report.to_dict())
                log.info("Ingestion job %s done: %s", job.id, report.to_dict())
        self._discard_staged(job)

    def _finish_failed(self, job: IngestJobRecord, error: str) -> None:
        self.store.fail(job.id, self.worker, error)
        log.info("Ingestion job %s failed: %s", job.id, one_line(error))

    def _check_stop(self, _what: str, _done: int, _total: int) -> None:
        if self._stop.is_set():
            raise _RunnerStopping()

    def _execute(self, job: IngestJobRecord) -> IngestReport:
        if job.kind == "reingest":
            paths = [self.knowledge_dir] + ([self.uploads_dir] if self.uploads_dir.is_dir() else [])
            return self._ingestor().ingest(paths, prune=True, progress=self._check_stop,
                                           stop=self._stop)
        staged = Path(job.path or "")
        if not staged.is_file():
            raise UnreadableFile("the uploaded file is not on this server; with several hosts, "
                                 "share $COACH_DATA_DIR/uploads between them, or upload it again")
        # A stop interrupts the read (the staged file is still there to run again), not the
        # indexing after the file has moved into the uploads folder.
        return self._ingestor().ingest_upload(staged, self.uploads_dir / staged.name,
                                              stop=self._stop)

    def _discard_staged(self, job: IngestJobRecord) -> None:
        if job.kind == "upload" and job.path:
            shutil.rmtree(Path(job.path).parent, ignore_errors=True)

    # -- recovery --------------------------------------------------------------------------------
    def recover_abandoned(self) -> list[int]:
        """Fail the jobs that a worker left running when it died: it is gone from this host, or
        its heartbeat is stale. Failing (not re-queueing) is deliberate: the file may be what
        killed the worker, and it must not kill the next one too."""
        self._last_recovery = time.monotonic()
        stale_before = utcnow() - dt.timedelta(seconds=STALE_AFTER_SECONDS)
        recovered = []
        for job in self.store.running():
            if job.worker == self.worker:
                continue
            beat = job.heartbeat_at or job.started_at
            stale = beat is None or beat < stale_before
            if not (stale or _gone_from_this_host(job.worker)):
                continue
            again = "upload the file again" if job.kind == "upload" else "start it again"
            if self.store.fail(job.id, job.worker, "interrupted: the worker running this job "
                               f"stopped before it finished (a restart or a crash); {again}"):
                self._discard_staged(job)
                recovered.append(job.id)
                log.warning("Ingestion job %s was abandoned by %s; marked failed",
                            job.id, job.worker)
        return recovered


def _gone_from_this_host(worker: str | None) -> bool:
    """True when ``worker`` (host:pid:token) ran on this host and has certainly stopped."""
    host, _, rest = (worker or "").partition(":")
    pid_text, _, _token = rest.partition(":")
    if host != _HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return worker not in _live_runners
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive under another user, or not ours to signal: leave it to the heartbeat
        return False
    return False
