from __future__ import annotations

import datetime as dt
import re
import tempfile
from pathlib import Path

from fastapi import APIRouter, Request, UploadFile

from api.deps import Admin, ContainerDep, CurrentUser
from api.errors import ApiError
from api.routes.common import ERRORS, PagingDep
from api.schemas import Document, ErrorResponse, IngestReport, Page
from coach.ingest.loaders import SUPPORTED, UnreadableFile, load_file

router = APIRouter(tags=["knowledge"], responses={
    **ERRORS, 415: {"model": ErrorResponse, "description": "Not a supported document type"}})


@router.get("/knowledge/documents", response_model=Page[Document],
            summary="The documents in the knowledge index")
def documents(_: CurrentUser, c: ContainerDep, paging: PagingDep):
    rows = [{"source": c.source_names.display(d.source), "kind": d.kind, "title": d.title, "chunk_count": d.chunk_count,
             # stored as naive UTC; say so, as RFC 3339 requires
             "ingested_at": d.ingested_at.replace(tzinfo=dt.UTC)} for d in c.manifest.all().values()]
    return paging.page(rows)


def safe_name(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(name or "upload").name).strip(".-")[:120]
    return stem or "upload"


async def save_upload(request: Request, c, file: UploadFile) -> IngestReport:
    limit = c.settings.max_upload_bytes
    suffix = Path(file.filename or "").suffix.lower()
    if suffix not in SUPPORTED:
        raise ApiError(415, "unsupported_type", f"{file.filename!r} is not .md, .txt, .html, "
                       ".pdf or .docx.")
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, "too_large", f"The upload is over {limit:,} bytes.")
    name = safe_name(file.filename or "upload")
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / name
        probe.write_bytes(data)
        try:
            load_file(probe)  # refuse an unreadable file before it touches the knowledge base
        except UnreadableFile as exc:
            raise ApiError(422, "unreadable_file", f"{name}: {exc}.") from None
    target = c.settings.uploads_dir
    target.mkdir(parents=True, exist_ok=True)
    path = target / name
    tmp_path = path.with_suffix(path.suffix + ".part")
    tmp_path.write_bytes(data)
    tmp_path.replace(path)  # atomic: a crash never leaves half a file to ingest
    return c.ingestor.ingest([path])


@router.post("/knowledge/documents", response_model=IngestReport, status_code=201,
             summary="Upload a document (.md .txt .html .pdf .docx) and ingest it")
async def upload(request: Request, file: UploadFile, _: Admin, c: ContainerDep):
    report = await save_upload(request, c, file)
    return report.to_dict()


@router.post("/knowledge/ingest", response_model=IngestReport,
             summary="Re-ingest the knowledge folder and uploads; prune files that are gone")
def reingest(_: Admin, c: ContainerDep):
    paths = [c.settings.knowledge_dir] + ([c.settings.uploads_dir]
                                          if c.settings.uploads_dir.is_dir() else [])
    return c.ingestor.ingest(paths, prune=True).to_dict()
