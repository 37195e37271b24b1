"""The abuse suite for uploads: hostile documents from a security review of the served demo.

Each one is uploaded through the API and through the /knowledge page, and is refused within its
limits with a one-line reason on its job, leaving the knowledge base as it was; a real server
keeps answering /healthz quickly while it ingests them. Good documents still become searchable,
and no list shows a server path.
"""

from __future__ import annotations

import functools
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from pypdf import PdfWriter

from coach.domain.limits import ReadLimits
from coach.ingest.front_matter import FrontMatterRefused, load_front_matter
from coach.ingest.ingest import Ingestor
from coach.ingest.isolation import IsolatedReader
from coach.ingest.loaders import UnreadableFile, load_file
from coach.operations.doctor import run_doctor
from coach.ports import MetadataFilter
from coach.store.ingest_jobs import IngestJobStore
from tests.api_world import build_world
from tests.conftest import KNOWLEDGE, make_settings
from tests.docs import write_docx
from tests.servers import free_port, wait_for_port

pytestmark = pytest.mark.abuse

REPO = Path(__file__).resolve().parent.parent


# -- hostile documents, built here -------------------------------------------------------------
def empty_paragraphs(count: int) -> bytes:
    """10,000 of them made a 70 KB page that took 3 s to parse, 20,000 took 11.8 s."""
    return b"<p></p>" * count


@functools.cache
def docx_bomb() -> bytes:
    """A valid .docx of about 30 KB whose document.xml inflates to 20 MB."""
    body = "<w:p/>" * ((20_000_000 - 200) // 6)
    parts = {
        "[Content_Types].xml":
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats'
            '.org/package/2006/content-types"><Default Extension="rels" ContentType="applicatio'
            'n/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentTy'
            'pe="application/xml"/><Override PartName="/word/document.xml" ContentType="applicat'
            'ion/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        "_rels/.rels":
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxml'
            'formats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schem'
            'as.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="wo'
            'rd/document.xml"/></Relationships>',
        "word/document.xml":
            '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlf'
            f'ormats.org/wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>',
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def billion_laughs() -> bytes:
    """Front matter of about 340 bytes that yaml.safe_load expands to a billion list items."""
    levels = "abcdefghi"
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip(levels, levels[1:]):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    return ("---\n" + "\n".join(lines) + "\n---\n# Laughs\n\nA guideline with enough words.\n"
            ).encode()


def repeat_to(unit: str, size: int) -> bytes:
    return (unit * (size // len(unit) + 1))[:size].encode()


@functools.cache
def tag_soup(size: int = 1_000_000) -> bytes:
    """A megabyte of unclosed, misnested tags: 1 MB ran for over 10 CPU-minutes."""
    return repeat_to("<div class=x><p><b>bold<i>it</b></i><table><tr><td>cell<span><li>item"
                     "<br><font>", size)


@functools.cache
def flat_tag_soup(size: int = 1_000_000) -> bytes:
    """A megabyte of short, shallow tags: about 150,000 elements."""
    return repeat_to("<p><b>bold</b> <i>it</i><span>x</span><a href=#>l</a><br>", size)


HOSTILE = {
    "empty-10k.html": (lambda: empty_paragraphs(10_000), "no readable text in the file"),
    "empty-20k.html": (lambda: empty_paragraphs(20_000), "no readable text in the file"),
    "bomb.docx": (docx_bomb, "the .docx expands to 20 MB of XML; the limit is 8 MB"),
    "laughs.md": (billion_laughs,
                  "its front matter uses more than 20 YAML aliases; the limit is 20"),
    "soup.html": (tag_soup, "its HTML is nested over 256 levels deep (unclosed tags); the "
                            "limit is 256"),
    "flat-soup.html": (flat_tag_soup, "it has over 100,000 HTML elements; the limit is 100,000"),
}


def test_the_hostile_files_are_what_the_review_described():
    assert len(empty_paragraphs(10_000)) == 70_000
    assert len(docx_bomb()) < 40_000
    with zipfile.ZipFile(io.BytesIO(docx_bomb())) as archive:
        assert sum(p.file_size for p in archive.infolist()) > 19_900_000
    assert len(billion_laughs()) < 420
    assert len(tag_soup()) == len(flat_tag_soup()) == 1_000_000


# -- the knowledge base must not change ---------------------------------------------------------
def knowledge_state(container):
    files = sorted(str(p.relative_to(container.settings.uploads_dir))
                   for p in container.settings.uploads_dir.rglob("*") if p.is_file()) \
        if container.settings.uploads_dir.exists() else []
    return (sorted((d.source, d.content_hash, d.chunk_count)
                   for d in container.manifest.all().values()),
            container.index.count(), files)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("abuse"))


def job_of(world, job_id):
    response = world.client.get(f"/api/v1/knowledge/jobs/{job_id}", headers=world.headers("admin"))
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_upload_through_the_api_is_refused_by_its_job(world, name):
    build, reason = HOSTILE[name]
    before = knowledge_state(world.container)
    response = world.client.post("/api/v1/knowledge/documents", files={"file": (name, build())},
                                 headers=world.headers("admin"))
    assert response.status_code == 202, response.text
    queued = response.json()
    assert queued["status"] == "queued" and queued["name"] == f"uploads/{name}"
    assert response.headers["location"] == f"/api/v1/knowledge/jobs/{queued['id']}"
    assert world.run_jobs() == 1
    job = job_of(world, queued["id"])
    assert job["status"] == "failed" and job["report"] is None
    assert job["error"] == f"uploads/{name}: {reason}", job["error"]
    assert "\n" not in job["error"]
    assert knowledge_state(world.container) == before


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_upload_through_the_knowledge_page_shows_its_refusal(world, name):
    build, reason = HOSTILE[name]
    before = knowledge_state(world.container)
    admin = world.headers("admin")
    response = world.client.post("/knowledge", files={"file": (name, build())}, headers=admin,
                                 follow_redirects=False)
    assert response.status_code == 303, response.text[:300]
    page = response.headers["location"]
    assert page.startswith("/knowledge?job=")
    waiting = world.client.get(page, headers=admin).text
    assert "queued" in waiting and 'http-equiv="refresh"' in waiting
    world.run_jobs()
    shown = world.client.get(page, headers=admin).text
    assert f"uploads/{name}: <strong>failed</strong>" in shown
    assert reason.replace("'", "&#39;") in shown
    assert 'http-equiv="refresh"' not in shown
    assert knowledge_state(world.container) == before


# -- good documents still work --------------------------------------------------------------------
GOOD_MD = b"""---
title: Zephyrine pairing guide
focus: technology
---
# Zephyrine pairing guide

## Before the session

The mentor sends the zephyrine checklist two days before each session.
"""
GOOD_HTML = (b"<html><head><title>Quillwort captions</title></head><body><h1>Quillwort captions"
             b"</h1>" + b"<p>Every quillwort video needs captions for deaf colleagues.</p>" * 50 +
             b"</body></html>")


def good_docx(tmp_path) -> bytes:
    path = write_docx(tmp_path / "marrowfat.docx", "Marrowfat handbook",
                      {"Cadence": "Marrowfat pairs meet every two weeks for 45 minutes."})
    return path.read_bytes()


def test_good_uploads_are_ingested_and_searchable(tmp_path):
    world = build_world(tmp_path)
    admin = world.headers("admin")
    uploads = {"zephyrine.md": (GOOD_MD, "zephyrine checklist"),
               "quillwort.html": (GOOD_HTML, "quillwort video captions"),
               "marrowfat.docx": (good_docx(tmp_path), "marrowfat pairs meet")}
    ids = {}
    for name, (data, _query) in uploads.items():
        if name.endswith(".html"):  # one through the page, the others through the API
            response = world.client.post("/knowledge", files={"file": (name, data)},
                                         headers=admin, follow_redirects=False)
            assert response.status_code == 303
            ids[name] = int(response.headers["location"].split("=")[1])
        else:
            response = world.client.post("/api/v1/knowledge/documents",
                                         files={"file": (name, data)}, headers=admin)
            assert response.status_code == 202
            ids[name] = response.json()["id"]
    assert world.run_jobs() == 3
    for name, (_data, query) in uploads.items():
        job = job_of(world, ids[name])
        assert job["status"] == "done" and job["error"] is None, job
        assert job["report"]["chunks_added"] > 0 and job["report"]["skipped"] == []
        source = f"uploads/{name}"
        assert world.container.index.get(MetadataFilter.of(source=[source]))
        hits = world.container.retriever.search(query, 3)
        assert hits and hits[0].source == source, [h.source for h in hits]
    assert sorted(p.name for p in world.container.settings.uploads_dir.iterdir()
                  if p.is_file()) == sorted(uploads)
    assert not any((world.container.settings.uploads_dir / ".incoming").iterdir())
    page = world.client.get(f"/knowledge?job={ids['quillwort.html']}", headers=admin).text
    assert "uploads/quillwort.html: <strong>done</strong>" in page
    jobs = world.client.get("/api/v1/knowledge/jobs?limit=2", headers=admin).json()
    assert jobs["total"] == 3 and [j["id"] for j in jobs["items"]] == sorted(ids.values())[::-1][:2]

    # a refused file under a good file's name (unreadable, or readable but making too many
    # passages) changes nothing: the good one stays as it was
    before = knowledge_state(world.container)
    world.container.ingestor.limits = ReadLimits(max_passages=3)
    many = "".join(f"## Part {n}\n\nEnough words in part {n} to count.\n\n" for n in range(5))
    for data, reason in [(billion_laughs(), "YAML aliases"),
                         (many.encode(), "it makes 5 passages; the limit is 3, so split it")]:
        response = world.client.post("/api/v1/knowledge/documents",
                                     files={"file": ("zephyrine.md", data)}, headers=admin)
        world.run_jobs()
        job = job_of(world, response.json()["id"])
        assert job["status"] == "failed" and reason in job["error"], job
        assert knowledge_state(world.container) == before
        assert (world.container.settings.uploads_dir / "zephyrine.md").read_bytes() == GOOD_MD


def test_a_large_page_of_real_paragraphs_is_ingested_within_its_limits(world):
    """20,000 paragraphs with text: linear now, so the page is read, not refused."""
    page = b"<html><body>" + b"".join(
        f"<p>Paragraph {n} on reverse mentoring rhythms.</p>".encode() for n in range(20_000))
    response = world.client.post("/api/v1/knowledge/documents",
                                 files={"file": ("rhythms.html", page)},
                                 headers=world.headers("admin"))
    world.run_jobs()
    job = job_of(world, response.json()["id"])
    assert job["status"] == "done" and job["report"]["chunks_added"] > 500
    world.container.ingestor.remove_source("uploads/rhythms.html")
    (world.container.settings.uploads_dir / "rhythms.html").unlink()


# -- no server paths -------------------------------------------------------------------------------
def test_lists_show_names_never_server_paths_and_old_manifests_are_renamed(tmp_path):
    world = build_world(tmp_path)
    c, admin = world.container, world.headers("admin")
    data_dir = str(c.settings.data_dir.resolve())
    # a manifest from before names: an upload recorded under its absolute path
    old = c.settings.uploads_dir / "old-guide.md"
    old.parent.mkdir(parents=True, exist_ok=True)
    old.write_text("# Old guide\n\nPairs agree on ground rules in the very first session.\n")
    legacy = str(old.resolve())
    c.ingestor.ingest_file(old, legacy)
    assert legacy in c.manifest.all()

    for role in ("admin", "mentor"):
        listed = world.client.get("/api/v1/knowledge/documents?limit=200",
                                  headers=world.headers(role))
        assert data_dir not in listed.text
        assert "uploads/old-guide.md" in {d["source"] for d in listed.json()["items"]}
        page = world.client.get("/knowledge", headers=world.headers(role)).text
        assert data_dir not in page and "uploads/old-guide.md" in page
    found = run_doctor(c)
    assert any("uploads/old-guide.md: known by its server path" in f.detail
               for f in found.findings), found.to_dict()

    # a re-ingest (a job now) renames the file for good
    response = world.client.post("/api/v1/knowledge/ingest", headers=admin)
    assert response.status_code == 202 and response.json()["name"] == "knowledge/ and uploads/"
    world.run_jobs()
    job = job_of(world, response.json()["id"])
    assert job["status"] == "done" and job["report"]["chunks_removed"] >= 1, job
    sources = set(c.manifest.all())
    assert "uploads/old-guide.md" in sources and legacy not in sources
    indexed = {chunk.metadata["source"] for chunk in c.index.get(include_text=False)}
    assert legacy not in indexed and "uploads/old-guide.md" in indexed
    assert run_doctor(c).ok
    assert data_dir not in json.dumps(job)


def test_the_doctor_renames_an_old_manifest_entry(tmp_path):
    world = build_world(tmp_path)
    c = world.container
    folder = tmp_path / "my-guidelines" / "sub"
    folder.mkdir(parents=True)
    (folder / "rules.md").write_text("# Rules\n\nWhat is said in a session stays in the pair.\n")
    legacy = str((folder / "rules.md").resolve())
    c.ingestor.ingest_file(folder / "rules.md", legacy)
    assert c.source_names.display(legacy) == "sub/rules.md"
    repaired = run_doctor(c, repair=True)
    assert repaired.ok and any("known by its server path" in f.detail for f in repaired.findings)
    assert "sub/rules.md" in c.manifest.all() and legacy not in c.manifest.all()
    assert run_doctor(c).findings == []


def test_the_cli_names_files_by_the_folder_given_and_refuses_hostile_ones(run, tmp_path):
    folder = tmp_path / "my-guidelines"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "file.md").write_bytes(GOOD_MD)
    for name, (build, _reason) in HOSTILE.items():
        (folder / name).write_bytes(build())
    code, out, err = run("ingest", str(folder), "--json")
    assert code == 0, err
    report = json.loads(out)
    reasons = {s["path"]: s["reason"] for s in report["skipped"]}
    assert reasons == {f"my-guidelines/{name}": reason for name, (_b, reason) in HOSTILE.items()}
    assert report["chunks_added"] > 0
    assert str(tmp_path) not in out


# -- the readers' limits, one by one --------------------------------------------------------------
def test_yaml_aliases_and_their_expansion_are_capped():
    with pytest.raises(FrontMatterRefused, match="more than 20 YAML aliases"):
        load_front_matter(billion_laughs().decode().split("---")[1])
    wide = "a: &a [" + ",".join(["x"] * 1000) + "]\nb: [" + ",".join(["*a"] * 10) + "]\n"
    with pytest.raises(FrontMatterRefused, match="expands to over 5,000 YAML values"):
        load_front_matter(wide)
    with pytest.raises(FrontMatterRefused, match="contains itself"):
        load_front_matter("a: &a [1, *a]\n")
    with pytest.raises(FrontMatterRefused, match="nested too deeply"):
        load_front_matter("[" * 5000 + "]" * 5000)
    with pytest.raises(FrontMatterRefused, match="over 20,000 characters"):
        load_front_matter("a: " + "x" * 20_001)
    assert load_front_matter("title: T\nrelated: &r [a, b]\nsee: *r\n") == \
        {"title": "T", "related": ["a", "b"], "see": ["a", "b"]}


def test_docx_archives_are_checked_before_they_are_inflated(tmp_path):
    dense = tmp_path / "dense.docx"
    with zipfile.ZipFile(dense, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/media/blank.bin", b"\0" * 5_000_000)  # under 8 MB, 1000:1
    with pytest.raises(UnreadableFile, match="compressed [0-9,]+ to 1, as zip bombs are"):
        load_file(dense)
    many = tmp_path / "many.docx"
    with zipfile.ZipFile(many, "w") as archive:
        for n in range(1_001):
            archive.writestr(f"part{n}.xml", "<a/>")
    with pytest.raises(UnreadableFile, match="has 1,001 parts; the limit is 1,000"):
        load_file(many)


def test_pdf_pages_and_extracted_text_are_capped(tmp_path):
    pdf = tmp_path / "three.pdf"
    writer = PdfWriter()
    for _ in range(3):
        writer.add_blank_page(612, 792)
    writer.write(str(pdf))
    with pytest.raises(UnreadableFile, match="the PDF has 3 pages; the limit is 2"):
        load_file(pdf, ReadLimits(max_pdf_pages=2))
    page = tmp_path / "long.html"
    page.write_text("<p>" + "word " * 1000 + "</p>")
    with pytest.raises(UnreadableFile, match="over 1,000 characters of text"):
        load_file(page, ReadLimits(max_text_chars=1000))


def test_a_file_making_too_many_passages_is_skipped_and_adds_nothing(fake_container, tmp_path):
    notes = tmp_path / "long.md"
    notes.write_text("".join(f"## Part {n}\n\nEnough words in part {n} to count.\n\n"
                             for n in range(10)))
    ingestor = Ingestor(fake_container.index, fake_container.manifest, KNOWLEDGE,
                        limits=ReadLimits(max_passages=5))
    report = ingestor.ingest([notes])
    assert report.skipped == [{"path": f"{tmp_path.name}/long.md",
                               "reason": "it makes 10 passages; the limit is 5, so split it"}]
    assert fake_container.index.count() == 0 and fake_container.manifest.all() == {}


def test_markdown_that_made_the_old_patterns_backtrack_reads_in_linear_time(tmp_path):
    """A 100 KB heading of spaces took the old heading pattern far past any limit (4 KB: 80 s);
    unclosed comments and an unclosed front matter made others quadratic."""
    cases = {
        "heading.md": "# x" + " " * 100_000 + "y\n\nA body with enough words in it.\n",
        "comments.md": "# T\n\n" + "<!-- questions: " * 50_000 + "\n\nA body long enough.\n",
        "front.md": "---\ntitle: x\n" + "- a\n" * 50_000 + "# T\n\nA body long enough here.\n",
    }
    with IsolatedReader(seconds_per_file=10) as read:
        for name, text in cases.items():
            (tmp_path / name).write_text(text)
            doc = read(tmp_path / name)
            assert doc.sections, name
    heading = load_file(tmp_path / "heading.md").sections[0].headings[0]
    assert heading.startswith("x ") and heading.endswith(" y")


def test_the_reader_kills_a_read_past_its_time_limit_and_carries_on(tmp_path):
    slow = tmp_path / "slow.md"
    slow.write_text("# Slow\n\n" + "A line of ordinary words.\n" * 75_000)
    fine = tmp_path / "fine.md"
    fine.write_text("# Fine\n\nA short document with enough words.\n")
    with IsolatedReader(seconds_per_file=0.001) as read:
        with pytest.raises(UnreadableFile, match=r"reading it took over 0.001 s; the limit is"):
            read(slow)
        read.seconds_per_file = 10
        assert read(fine).title == "Fine"


# -- the runner ------------------------------------------------------------------------------------
def test_jobs_left_running_by_a_dead_worker_are_failed_and_live_ones_left_alone(fake_container):
    from sqlalchemy import update

    from coach.store.models import IngestJob, utcnow

    store = IngestJobStore(fake_container.db)
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    now, long_ago = utcnow(), utcnow().replace(year=2000)
    left = {f"{socket.gethostname()}:{finished.pid}:gone": now,  # its process is gone
            "elsewhere:1:stale": long_ago,                       # silent for too long
            "elsewhere:2:alive": now}                            # still beating
    jobs = {}
    for worker, beat in left.items():
        jobs[worker] = store.create("reingest", "knowledge/ and uploads/").id
        with fake_container.db.session() as s:  # as that worker left it
            s.execute(update(IngestJob).where(IngestJob.id == jobs[worker]).values(
                status="running", worker=worker, started_at=beat, heartbeat_at=beat))
    recovered = fake_container.ingest_runner.recover_abandoned()
    assert sorted(recovered) == sorted(jobs[w] for w in left if w != "elsewhere:2:alive")
    for worker, job_id in jobs.items():
        job = store.get(job_id)
        if worker == "elsewhere:2:alive":
            assert job.status == "running"
        else:
            assert job.status == "failed" and job.error.startswith(
                "interrupted: the worker running this job stopped before it finished"), job


def test_a_stopping_runner_hands_its_job_back_to_the_queue(fake_container):
    job = fake_container.ingest_jobs.submit_reingest()
    runner = fake_container.ingest_runner
    runner.stop()  # as at shutdown: the next step notices
    assert runner.run_once()
    assert IngestJobStore(fake_container.db).get(job.id).status == "queued"


# -- a real server keeps answering while hostile uploads are ingested ------------------------------
@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """uvicorn serving the real app (tests.servers.app_with_fake_models: the fake embedder,
    the none LLM backend) on loopback, with an admin and a token."""
    from coach.container import Container
    from coach.store.credentials import TokenService

    root = tmp_path_factory.mktemp("served")
    settings = make_settings(root)
    setup = Container(settings)
    setup.db.migrate()
    admin = setup.store.add_person("Ada Admin", "admin@example.org", "admin")
    token = TokenService(setup.db).issue_personal(admin.id).token
    setup.close()
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1",
           "ANONYMIZED_TELEMETRY": "False", "COACH_DATA_DIR": str(settings.data_dir),
           "COACH_KNOWLEDGE_DIR": str(KNOWLEDGE), "COACH_LLM_BACKEND": "none"}
    port = free_port()
    log = open(root / "server.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "tests.servers:app_with_fake_models",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, 60, server, "uvicorn")
        yield {"base": f"http://127.0.0.1:{port}", "auth": {"Authorization": f"Bearer {token}"}}
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def poll_healthz(base: str, stop: threading.Event, polls: list) -> None:
    with httpx.Client(base_url=base, timeout=10) as client:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                outcome = client.get("/healthz").status_code
            except httpx.HTTPError as exc:
                outcome = repr(exc)
            polls.append((time.perf_counter() - started, outcome))


HEALTHZ_P99_SECONDS = 0.2


@pytest.mark.parametrize("name", HOSTILE)
def test_healthz_stays_fast_while_a_hostile_upload_is_ingested(served, name):
    build, reason = HOSTILE[name]
    polls: list = []
    stop = threading.Event()
    poller = threading.Thread(target=poll_healthz, args=(served["base"], stop, polls))
    poller.start()
    try:
        time.sleep(0.2)
        with httpx.Client(base_url=served["base"], headers=served["auth"], timeout=60) as api:
            started = time.monotonic()
            response = api.post("/api/v1/knowledge/documents", files={"file": (name, build())})
            assert response.status_code == 202, response.text
            job = response.json()
            while job["status"] not in ("done", "failed"):
                assert time.monotonic() - started < 60, f"job still {job['status']} after 60 s"
                time.sleep(0.05)
                job = api.get(f"/api/v1/knowledge/jobs/{job['id']}").json()
        while time.monotonic() - started < 1.5:  # enough polls for a p99 to mean something
            time.sleep(0.05)
    finally:
        stop.set()
        poller.join()
    failures = [outcome for _, outcome in polls if outcome != 200]
    latencies = sorted(seconds for seconds, _ in polls)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"\n{name}: {len(polls)} polls of /healthz, p50 "
          f"{statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
          f"max {latencies[-1] * 1000:.1f} ms; job {job['status']}: {job['error']}")
    assert not failures, failures[:5]
    assert p99 < HEALTHZ_P99_SECONDS, f"/healthz p99 {p99 * 1000:.0f} ms during {name}"
    assert job["status"] == "failed" and reason in job["error"]
