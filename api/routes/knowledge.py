from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Response, UploadFile
from fastapi.concurrency import run_in_threadpool

from api.deps import Admin, ContainerDep, CurrentUser
from api.routes.common import ERRORS, Id, PagingDep
from api.schemas import Document, ErrorResponse, IngestJob, Page
from coach.store.ingest_jobs import IngestJobRecord

router = APIRouter(tags=["knowledge"], responses={
    **ERRORS, 415: {"model": ErrorResponse, "description": "Not a supported document type"}})


def utc(value: dt.datetime | None) -> dt.datetime | None:
    # stored as naive UTC; say so, as RFC 3339 requires
    return value.replace(tzinfo=dt.UTC) if value is not None else None


def job_out(job: IngestJobRecord, response: Response | None = None) -> dict[str, Any]:
    if response is not None:
        response.headers["Location"] = f"/api/v1/knowledge/jobs/{job.id}"
    out = job.to_dict()
    for key in ("created_at", "started_at", "finished_at"):
        out[key] = utc(out[key])
    return out


@router.get("/knowledge/documents", response_model=Page[Document],
            summary="The documents in the knowledge index")
def documents(_: CurrentUser, container: ContainerDep, paging: PagingDep):
    rows = [{"source": container.source_names.display(d.source), "kind": d.kind, "title": d.title,
             "chunk_count": d.chunk_count, "ingested_at": utc(d.ingested_at)}
            for d in container.manifest.all().values()]
    return paging.page(rows)


async def read_upload(container, file: UploadFile) -> bytes:
    """At most one byte past the limit, so an oversized upload is refused, not read whole."""
    return await file.read(container.settings.max_upload_bytes + 1)


@router.post("/knowledge/documents", response_model=IngestJob, status_code=202,
             summary="Upload a document (.md .txt .html .pdf .docx); it is ingested by a job",
             description="The file is saved and queued; the answer is the job. Follow it at "
                         "`GET /api/v1/knowledge/jobs/{id}` (also in the Location header): it "
                         "ends `done` with a report, or `failed` with a one-line reason (an "
                         "unreadable file, or one past a size limit). A refused file changes "
                         "nothing in the knowledge base.")
async def upload(file: UploadFile, admin: Admin, container: ContainerDep, response: Response):
    data = await read_upload(container, file)
    job = await run_in_threadpool(container.ingest_jobs.submit_upload, file.filename or "", data, admin.id)
    return job_out(job, response)


@router.post("/knowledge/ingest", response_model=IngestJob, status_code=202,
             summary="Re-ingest the knowledge folder and uploads, pruning files that are gone; "
                     "a job")
def reingest(admin: Admin, container: ContainerDep, response: Response):
    return job_out(container.ingest_jobs.submit_reingest(admin.id), response)


@router.get("/knowledge/jobs", response_model=Page[IngestJob],
            summary="Ingestion jobs, newest first")
def jobs(_: Admin, container: ContainerDep, paging: PagingDep):
    items, total = container.ingest_jobs.page(paging.limit, paging.offset)
    return {"items": [job_out(j) for j in items], "total": total, "limit": paging.limit,
            "offset": paging.offset}


@router.get("/knowledge/jobs/{job_id}", response_model=IngestJob,
            summary="One ingestion job: its status, and its report or error")
def job(job_id: Id, _: Admin, container: ContainerDep):
    return job_out(container.ingest_jobs.get(job_id))
