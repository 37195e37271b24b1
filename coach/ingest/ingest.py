"""Idempotent ingestion of files and folders into the vector index."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from coach.errors import InvalidInput
from coach.ingest.chunking import chunk_document, content_hash
from coach.ingest.loaders import SUPPORTED, UnreadableFile, load_file
from coach.ports import Chunk, MetadataFilter, VectorIndex
from coach.store.documents import DocumentManifest, DocumentRecord
from coach.store.models import utcnow

BATCH = 256
Progress = Callable[[str, int, int], None]  # (what, done, total)


@dataclass
class IngestReport:
    files: int = 0
    chunks_added: int = 0
    chunks_unchanged: int = 0
    chunks_removed: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "files": self.files,
            "chunks_added": self.chunks_added,
            "chunks_unchanged": self.chunks_unchanged,
            "chunks_removed": self.chunks_removed,
            "skipped": self.skipped,
        }


def expand_paths(paths: Iterable[Path]) -> tuple[list[Path], list[dict[str, str]]]:
    """Files to ingest, in a stable order; unsupported files inside folders are skipped."""
    files: list[Path] = []
    skipped: list[dict[str, str]] = []
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        raise InvalidInput(f"No such file or folder: {missing[0]}. Check the path.")
    for path in paths:
        path = Path(path)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_dir() or any(part.startswith(".") for part in child.relative_to(path).parts):
                    continue
                if child.suffix.lower() in SUPPORTED:
                    files.append(child)
                else:
                    skipped.append({"path": str(child), "reason": "unsupported file type "
                                    f"{child.suffix or '(none)'}; use .md, .txt, .html, .pdf or .docx"})
        else:
            files.append(path)
    unique: dict[Path, None] = {}
    for f in files:
        unique.setdefault(f.resolve(), None)
    return list(unique), skipped


class Ingestor:
    """Keeps the index in step with files: unchanged files add nothing, changed files are replaced."""

    def __init__(self, index: VectorIndex, manifest: DocumentManifest, knowledge_dir: Path):
        self.index = index
        self.manifest = manifest
        self.knowledge_dir = knowledge_dir.resolve()

    def source_for(self, path: Path) -> str:
        """A stable display name: knowledge/<relative path> for the knowledge base."""
        resolved = path.resolve()
        try:
            return f"knowledge/{resolved.relative_to(self.knowledge_dir).as_posix()}"
        except ValueError:
            return resolved.as_posix()

    def _indexed_count(self, source: str) -> int:
        return len(self.index.get(MetadataFilter.of(source=[source]), include_text=False))

    def ingest(
        self, paths: Iterable[Path], *, prune: bool = False, progress: Progress | None = None
    ) -> IngestReport:
        files, skipped = expand_paths(list(paths))
        report = IngestReport(files=len(files), skipped=skipped)
        known = self.manifest.all()
        pending: list[Chunk] = []
        entries: list[DocumentRecord] = []
        for n, path in enumerate(files, 1):
            if progress:
                progress("reading", n, len(files))
            source = self.source_for(path)
            try:
                data = path.read_bytes()
                digest = content_hash(data)
                previous = known.get(source)
                if previous and previous.content_hash == digest:
                    indexed = self._indexed_count(source)
                    if indexed == previous.chunk_count:
                        report.chunks_unchanged += indexed
                        continue
                doc = load_file(path)
                chunks = chunk_document(doc, source, digest)
            except UnreadableFile as exc:
                report.skipped.append({"path": str(path), "reason": str(exc)})
                continue
            # Replace whatever this file had in the index (also heals a crashed ingest).
            stale = self.index.get(MetadataFilter.of(source=[source]), include_text=False)
            if stale:
                self.index.delete(where=MetadataFilter.of(source=[source]))
                report.chunks_removed += len(stale)
            pending.extend(chunks)
            entries.append(
                DocumentRecord(source, str(path), chunks[0].metadata["kind"], digest, len(chunks),
                               doc.title, utcnow())
            )
        # Similar lengths together: each batch pads to its longest text, so this saves encoder time.
        pending.sort(key=lambda c: len(c.text))
        for start in range(0, len(pending), BATCH):
            self.index.upsert(pending[start:start + BATCH])
            report.chunks_added += len(pending[start:start + BATCH])
            if progress:
                progress("embedding", report.chunks_added, len(pending))
        # The manifest is written last: a crash before this line is redone on the next run.
        self.manifest.record(entries)
        if prune:
            report.chunks_removed += self.prune()
        return report

    def prune(self) -> int:
        """Drop the chunks of ingested files that no longer exist on disk."""
        removed = 0
        gone = []
        for source, entry in self.manifest.all().items():
            if entry.path and not Path(entry.path).exists():
                stale = self.index.get(MetadataFilter.of(source=[source]), include_text=False)
                if stale:
                    self.index.delete(where=MetadataFilter.of(source=[source]))
                removed += len(stale)
                gone.append(source)
        self.manifest.remove(gone)
        return removed

    def remove_source(self, source: str) -> int:
        stale = self.index.get(MetadataFilter.of(source=[source]), include_text=False)
        if stale:
            self.index.delete(where=MetadataFilter.of(source=[source]))
        self.manifest.remove([source])
        return len(stale)
