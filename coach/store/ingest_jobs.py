"""The ingestion job table: submitted by the API, claimed and run by a worker's runner.

Every state change is a conditional UPDATE, so several worker processes (SQLite or PostgreSQL)
can share the table: a job is claimed by exactly one of them, and only the runner that claimed
a job can finish it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import aliased

from coach.domain.errors import NotFound
from coach.store.db import Database
from coach.store.models import IngestJob, utcnow

KINDS = ("upload", "reingest")
STATUSES = ("queued", "running", "done", "failed")
FINAL = ("done", "failed")
ERROR_MAX = 500  # characters of a job's one-line error


@dataclass(frozen=True)
class IngestJobRecord:
    id: int
    kind: str
    name: str
    path: str | None
    status: str
    report: dict[str, Any] | None
    error: str | None
    requested_by_id: int | None
    worker: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    heartbeat_at: dt.datetime | None
    finished_at: dt.datetime | None

    @property
    def finished(self) -> bool:
        return self.status in FINAL

    def to_dict(self) -> dict[str, Any]:
        """What a person may see: no server path, no worker name."""
        return {"id": self.id, "kind": self.kind, "name": self.name, "status": self.status,
                "report": self.report, "error": self.error,
                "requested_by": self.requested_by_id, "created_at": self.created_at,
                "started_at": self.started_at, "finished_at": self.finished_at}


def one_line(message: str) -> str:
    line = " ".join(str(message).split())
    return line if len(line) <= ERROR_MAX else line[:ERROR_MAX - 1] + "…"


def _record(job: IngestJob) -> IngestJobRecord:
    return IngestJobRecord(job.id, job.kind, job.name, job.path, job.status, job.report,
                           job.error, job.requested_by_id, job.worker, job.created_at,
                           job.started_at, job.heartbeat_at, job.finished_at)


class IngestJobStore:
    def __init__(self, db: Database):
        self.db = db

    def create(self, kind: str, name: str, path: str | None = None,
               requested_by_id: int | None = None) -> IngestJobRecord:
        if kind not in KINDS:
            raise ValueError(f"unknown ingestion job kind {kind!r}")
        with self.db.session() as s:
            job = IngestJob(kind=kind, name=name, path=path, status="queued",
                            requested_by_id=requested_by_id, created_at=utcnow())
            s.add(job)
            s.flush()
            return _record(job)

    def get(self, job_id: int) -> IngestJobRecord:
        with self.db.session() as s:
            job = s.get(IngestJob, job_id)
            if job is None:
                raise NotFound(f"No ingestion job {job_id}. List the jobs to find its id.")
            return _record(job)

    def page(self, limit: int, offset: int) -> tuple[list[IngestJobRecord], int]:
        """Newest first."""
        with self.db.session() as s:
            total = s.scalar(select(func.count()).select_from(IngestJob)) or 0
            rows = s.scalars(select(IngestJob).order_by(IngestJob.id.desc())
                             .limit(limit).offset(offset))
            return [_record(j) for j in rows], total

    def running(self) -> list[IngestJobRecord]:
        with self.db.session() as s:
            rows = s.scalars(select(IngestJob).where(IngestJob.status == "running")
                             .order_by(IngestJob.id))
            return [_record(j) for j in rows]

    def claim_next(self, worker: str) -> IngestJobRecord | None:
        """The oldest queued job, now running for ``worker``; None when there is none, or when
        another job is running: jobs run one at a time across all workers, because they all
        write the same index and manifest (and a re-ingest prunes what an upload adds).

        One UPDATE statement decides: on SQLite it holds the write lock throughout; on
        PostgreSQL a second claimer of the same row waits for the first, then finds the row no
        longer queued."""
        queued, running = aliased(IngestJob), aliased(IngestJob)
        oldest = select(func.min(queued.id)).where(queued.status == "queued").scalar_subquery()
        busy = select(running.id).where(running.status == "running").exists()
        now = utcnow()
        with self.db.session() as s:
            claimed = s.execute(
                update(IngestJob)
                .where(IngestJob.id == oldest, IngestJob.status == "queued", ~busy)
                .values(status="running", worker=worker, started_at=now, heartbeat_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if claimed != 1:
                return None
            job = s.scalars(select(IngestJob).where(IngestJob.status == "running",
                                                    IngestJob.worker == worker)).one()
            return _record(job)

    def _change(self, job_id: int, holder: str | None, **values: Any) -> bool:
        """Change a running job, only if ``holder`` (when given) is the worker that has it."""
        condition = [IngestJob.id == job_id, IngestJob.status == "running"]
        if holder is not None:
            condition.append(IngestJob.worker == holder)
        with self.db.session() as s:
            return s.execute(update(IngestJob).where(*condition).values(**values)
                             .execution_options(synchronize_session=False)).rowcount == 1

    def heartbeat(self, job_id: int, worker: str) -> bool:
        return self._change(job_id, worker, heartbeat_at=utcnow())

    def finish(self, job_id: int, worker: str, report: dict[str, Any]) -> bool:
        return self._change(job_id, worker, status="done", report=report, error=None,
                            finished_at=utcnow())

    def fail(self, job_id: int, worker: str | None, error: str,
             report: dict[str, Any] | None = None) -> bool:
        return self._change(job_id, worker, status="failed", error=one_line(error),
                            report=report, finished_at=utcnow())

    def requeue(self, job_id: int, worker: str) -> bool:
        """Give a job back, untouched, for any runner to start again (a clean shutdown)."""
        return self._change(job_id, worker, status="queued", worker=None, started_at=None,
                            heartbeat_at=None)
