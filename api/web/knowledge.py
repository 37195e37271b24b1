"""The knowledge base page: the programme's guidelines, and uploads with their jobs for admins."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import ContainerDep, FormUser, PageUser
from api.errors import status_for
from api.routes.knowledge import read_upload
from api.web.rendering import page_router, render
from coach.container import Container
from coach.domain.access import Forbidden
from coach.domain.errors import CoachError
from coach.domain.records import Principal
from coach.domain.vocabulary import Role

router = page_router()

JOBS_SHOWN = 10  # the latest ingestion jobs on the knowledge page


@router.get("/knowledge", response_class=HTMLResponse)
def knowledge_page(request: Request, user: PageUser, container: ContainerDep, job: int | None = None):
    return render(request, "knowledge.html", user, error=None,
                  **knowledge_context(container, user, job))


@router.post("/knowledge", response_class=HTMLResponse)
async def knowledge_upload(request: Request, user: FormUser, container: ContainerDep,
                           file: UploadFile):
    if user.role != Role.admin:
        raise Forbidden("Only admins upload documents.")
    try:
        data = await read_upload(container, file)
        job = await run_in_threadpool(container.ingest_jobs.submit_upload, file.filename or "",
                                      data, user.id)
    except CoachError as exc:  # the page again, saying why the file was refused
        context = await run_in_threadpool(knowledge_context, container, user, None)
        return render(request, "knowledge.html", user, http_status=status_for(exc),
                      error=exc.message, **context)
    return RedirectResponse(f"/knowledge?job={job.id}", status_code=303)


def knowledge_context(container: Container, user: Principal, job_id: int | None) -> dict[str, Any]:
    names = container.source_names
    docs = sorted((replace(d, source=names.display(d.source))
                   for d in container.manifest.all().values()),
                  key=lambda d: (d.kind, d.source))
    job, jobs = None, []
    if user.role == Role.admin:
        jobs = container.ingest_jobs.page(JOBS_SHOWN, 0)[0]
        if job_id is not None:
            try:
                job = container.ingest_jobs.get(job_id)
            except CoachError:
                job = None
    # A plain reload while a job is under way shows its progress without JavaScript.
    busy = any(j.status in ("queued", "running") for j in [job, *jobs] if j is not None)
    return {"docs": docs, "job": job, "jobs": jobs, "refresh_seconds": 2 if busy else None}
