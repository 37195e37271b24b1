import pytest

from coach.domain.errors import InvalidInput
from coach.ports import MetadataFilter
from tests.docs import write_docx, write_pdf

GUIDE = """---
title: Meeting guide
kind: guideline
focus: technology
---
# Meeting guide

## Before the session

The mentor sends a short agenda two days ahead so the senior can think about it.

## During the session

Keep the phone away. The mentee tries the tool live while the mentor watches.
"""


@pytest.fixture
def docs(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "guide.md").write_text(GUIDE)
    (folder / "notes.txt").write_text("Phishing emails imitate trusted suppliers. Check the sender.")
    (folder / "page.html").write_text(
        "<html><head><title>Captions</title><script>alert(1)</script></head><body>"
        "<h1>Captions</h1><p>Internal videos need captions for deaf colleagues.</p>"
        "<h2>Alt text</h2><p>Images in slides need alt text for screen readers.</p></body></html>")
    write_pdf(folder / "policy.pdf", ["Confidentiality policy.", "What is said in a session stays private."])
    write_docx(folder / "handbook.docx", "Handbook",
               {"Cadence": "Pairs meet every two weeks for 45 minutes."})
    return folder


def chunks_of(container, source_suffix):
    return [c for c in container.index.get() if c.metadata["source"].endswith(source_suffix)]


def test_ingests_every_supported_format_with_headings(fake_container, docs):
    report = fake_container.ingestor.ingest([docs])
    assert report.files == 5 and report.skipped == []
    assert report.chunks_added == fake_container.index.count() >= 7
    headings = {c.metadata["heading"] for c in fake_container.index.get()}
    assert "Meeting guide > Before the session" in headings
    assert "Captions > Alt text" in headings
    assert any(h.endswith("Cadence") for h in headings)
    pdf_text = " ".join(c.text for c in chunks_of(fake_container, "policy.pdf"))
    assert "stays private" in pdf_text
    html = " ".join(c.text for c in chunks_of(fake_container, "page.html"))
    assert "alert(1)" not in html and "deaf colleagues" in html
    guide = chunks_of(fake_container, "guide.md")[0].metadata
    assert guide["focus"] == "technology" and guide["kind"] == "guideline"
    assert guide["scope"] == "global"


def test_reingest_is_idempotent(fake_container, docs):
    first = fake_container.ingestor.ingest([docs])
    ids = {c.id for c in fake_container.index.get()}
    again = fake_container.ingestor.ingest([docs])
    assert again.chunks_added == 0 and again.chunks_removed == 0
    assert again.chunks_unchanged == first.chunks_added
    assert {c.id for c in fake_container.index.get()} == ids


def test_changed_file_replaces_its_chunks(fake_container, docs):
    fake_container.ingestor.ingest([docs])
    before = len(chunks_of(fake_container, "guide.md"))
    (docs / "guide.md").write_text(GUIDE.replace("two days ahead", "a week ahead"))
    report = fake_container.ingestor.ingest([docs])
    assert report.chunks_removed == before and report.chunks_added == before
    texts = " ".join(c.text for c in chunks_of(fake_container, "guide.md"))
    assert "a week ahead" in texts and "two days ahead" not in texts
    assert len(chunks_of(fake_container, "guide.md")) == before


def test_prune_drops_chunks_of_deleted_files(fake_container, docs):
    fake_container.ingestor.ingest([docs])
    n = len(chunks_of(fake_container, "notes.txt"))
    (docs / "notes.txt").unlink()
    kept = fake_container.ingestor.ingest([docs])
    assert kept.chunks_removed == 0 and chunks_of(fake_container, "notes.txt")
    pruned = fake_container.ingestor.ingest([docs], prune=True)
    assert pruned.chunks_removed == n
    assert chunks_of(fake_container, "notes.txt") == []
    assert not any(s.endswith("notes.txt") for s in fake_container.manifest.all())


def test_bad_files_are_skipped_by_name_and_the_rest_ingested(fake_container, docs):
    (docs / "empty.md").write_text("   \n")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (docs / "broken.docx").write_bytes(b"PK\x03\x04 not a zip")
    (docs / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (docs / "photo.png").write_bytes(b"\x89PNG\r\n")
    (docs / "bad-front.md").write_text("---\ntitle: [unclosed\n---\n# X\n\nbody text here, long enough.")
    report = fake_container.ingestor.ingest([docs])
    reasons = {s["path"].rsplit("/", 1)[-1]: s["reason"] for s in report.skipped}
    assert set(reasons) == {"empty.md", "broken.pdf", "broken.docx", "latin1.txt", "photo.png",
                            "bad-front.md"}
    assert "empty" in reasons["empty.md"]
    assert "PDF" in reasons["broken.pdf"] and ".docx" in reasons["broken.docx"]
    assert "UTF-8" in reasons["latin1.txt"] and "unsupported" in reasons["photo.png"]
    assert report.files == 10  # the png is not a candidate file
    assert len({c.metadata["source"] for c in fake_container.index.get()}) == 5


def test_missing_path_fails_before_anything_is_written(fake_container, docs, tmp_path):
    with pytest.raises(InvalidInput, match="No such file"):
        fake_container.ingestor.ingest([docs, tmp_path / "nope.md"])
    assert fake_container.index.count() == 0


def test_crashed_ingest_heals_on_the_next_run(fake_container, docs):
    """Chunks written without a manifest row (a crash) are replaced, not duplicated."""
    fake_container.ingestor.ingest([docs])
    source = next(iter(fake_container.manifest.all()))
    fake_container.manifest.remove([source])
    report = fake_container.ingestor.ingest([docs])
    assert report.chunks_removed > 0
    ids = [c.id for c in fake_container.index.get()]
    assert len(ids) == len(set(ids))
    counts = {s: r.chunk_count for s, r in fake_container.manifest.all().items()}
    for src, n in counts.items():
        assert len(fake_container.index.get(MetadataFilter.of(source=[src]))) == n


def test_knowledge_base_ingests_cleanly(fake_container, settings):
    report = fake_container.ingestor.ingest([settings.knowledge_dir])
    assert report.skipped == []
    topics = fake_container.index.get(MetadataFilter.of(kind=["topic"]))
    assert len(topics) >= 60 and all(t.metadata.get("topic_id") for t in topics)
    sources = {c.metadata["source"] for c in fake_container.index.get()}
    assert "knowledge/coordinator-guide.md" in sources
