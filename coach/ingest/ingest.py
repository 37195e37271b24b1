"""Idempotent ingestion of files and folders into the vector index."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

from coach.domain.errors import InvalidInput
from coach.domain.limits import DEFAULT_LIMITS, SECONDS_PER_FILE, ReadLimits
from coach.ingest.chunking import chunk_document, content_hash
from coach.ingest.isolation import IsolatedReader
from coach.ingest.loaders import SUPPORTED, SUPPORTED_HINT, LoadedDocument, UnreadableFile
from coach.ports import Chunk, MetadataFilter, VectorIndex
from coach.store.documents import DocumentManifest, DocumentRecord
from coach.store.models import utcnow

BATCH = 256
Progress = Callable[[str, int, int], None]  # (what, done, total)
Reader = Callable[[Path], LoadedDocument]   # raises UnreadableFile
Prepare = Callable[[Path, str, str], list[Chunk]]  # (path, source, digest) -> chunks


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


@dataclass(frozen=True)
class Candidate:
    """A file found under one of the paths given, and the folder it was found in."""

    path: Path
    root: Path | None  # None: the file was named itself


def expand_paths(paths: Iterable[Path]) -> list[Candidate]:
    """Every file under ``paths`` (hidden ones left out), in a stable order, each once."""
    paths = [Path(p) for p in paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise InvalidInput(f"No such file or folder: {missing[0]}. Check the path.")
    found: dict[Path, Candidate] = {}
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_dir() or any(part.startswith(".") for part in child.relative_to(path).parts):
                    continue
                found.setdefault(child.resolve(), Candidate(child, path))
        else:
            found.setdefault(path.resolve(), Candidate(path, None))
    return list(found.values())


def is_server_path(source: str) -> bool:
    """A manifest source written before sources were names (an absolute path on the server)."""
    return PurePosixPath(source).is_absolute() or PureWindowsPath(source).is_absolute()


class SourceNames:
    """The names files are known by in the index, the manifest and every answer's citations:
    never a server path, which would tell every role how the server is laid out."""

    def __init__(self, knowledge_dir: Path, uploads_dir: Path | None = None):
        self.knowledge_dir = knowledge_dir.resolve()
        self.uploads_dir = uploads_dir.resolve() if uploads_dir is not None else None

    def for_file(self, path: Path, root: Path | None = None) -> str:
        """knowledge/<relative path> for the knowledge base, uploads/<name> for uploads,
        otherwise <folder given>/<relative path> (for a file given alone, its own folder's)."""
        resolved = Path(path).resolve()
        for label, base in (("knowledge", self.knowledge_dir), ("uploads", self.uploads_dir)):
            if base is not None and resolved.is_relative_to(base):
                return f"{label}/{resolved.relative_to(base).as_posix()}"
        folder = Path(os.path.abspath(root if root is not None else Path(path).parent))
        try:
            relative = Path(os.path.abspath(path)).relative_to(folder).as_posix()
        except ValueError:  # not lexically inside (a symlinked folder): the file's own name
            relative = Path(path).name
        return f"{folder.name or 'files'}/{relative}"

    def display(self, source: str) -> str:
        """What to show for a manifest source. Manifests written before names recorded server
        paths; those show as their name until a re-ingest renames them for good."""
        return self.for_file(Path(source)) if is_server_path(source) else source


class Ingestor:
    """Keeps the index in step with files: unchanged files add nothing, changed files are replaced.

    Files are read through an IsolatedReader (a child process with a time and memory limit) and
    the size limits of ``limits``, whoever calls: the CLI, the API's jobs or the doctor."""

    def __init__(self, index: VectorIndex, manifest: DocumentManifest, knowledge_dir: Path,
                 uploads_dir: Path | None = None, *, limits: ReadLimits = DEFAULT_LIMITS,
                 seconds_per_file: float = SECONDS_PER_FILE):
        self.index = index
        self.manifest = manifest
        self.names = SourceNames(knowledge_dir, uploads_dir)
        self.limits = limits
        self.seconds_per_file = seconds_per_file

    def source_for(self, path: Path, root: Path | None = None) -> str:
        return self.names.for_file(path, root)

    # -- reading ---------------------------------------------------------------------------------
    @contextmanager
    def reader(self, stop: threading.Event | None = None) -> Iterator[Reader]:
        with IsolatedReader(self.seconds_per_file, self.limits, stop=stop) as read:
            yield read

    def _indexed_count(self, source: str) -> int:
        return len(self.index.get(MetadataFilter.of(source=[source]), include_text=False))

    # -- ingestion -------------------------------------------------------------------------------
    def ingest(self, paths: Iterable[Path], *, prune: bool = False,
               progress: Progress | None = None,
               stop: threading.Event | None = None) -> IngestReport:
        """Bring ``paths`` into the index. ``stop`` (a threading.Event) interrupts a read
        with ReadInterrupted; whatever was not recorded yet is redone next time."""
        candidates = expand_paths(list(paths))
        report = IngestReport()
        files: list[tuple[Path, str]] = []
        for candidate in candidates:
            source = self.source_for(candidate.path, candidate.root)
            if candidate.path.suffix.lower() in SUPPORTED:
                files.append((candidate.path, source))
            elif candidate.root is not None:  # inside a folder: not a candidate, just noted
                report.skipped.append({"path": source, "reason": "unsupported file type "
                                       f"{candidate.path.suffix or '(none)'}; {SUPPORTED_HINT}"})
            else:
                files.append((candidate.path, source))  # named on purpose: refused by the reader
        report.files = len(files)
        with self.reader(stop) as read:
            self._ingest_files(files, self._preparer(read), report, progress)
        if prune:
            report.chunks_removed += self.prune()
        return report

    def ingest_file(self, path: Path, source: str, *,
                    progress: Progress | None = None) -> IngestReport:
        """One file under a name chosen by the caller (the doctor keeps a file's name)."""
        report = IngestReport(files=1)
        with self.reader() as read:
            self._ingest_files([(path, source)], self._preparer(read), report, progress)
        return report

    def ingest_upload(self, staged: Path, target: Path, *, progress: Progress | None = None,
                      stop: threading.Event | None = None) -> IngestReport:
        """Read a staged upload first; only a readable file is moved to ``target`` (in the
        uploads folder) and indexed. A refusal raises UnreadableFile and changes nothing."""
        source = self.source_for(target)
        with self.reader(stop) as read:
            chunks = self._preparer(read)(staged, source, content_hash(staged.read_bytes()))
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)  # atomic: the folder never holds half a file
        report = IngestReport(files=1)
        self._ingest_files([(target, source)], lambda *_: chunks, report, progress)
        return report

    def _preparer(self, read: Reader) -> Prepare:
        """Read and chunk a file; a file that makes too many passages is refused too."""
        topics: dict[str, str] = {}  # topic id -> the file that has it, read once per run

        def prepare(path: Path, source: str, digest: str) -> list[Chunk]:
            chunks = chunk_document(read(path), source, digest)
            if len(chunks) > self.limits.max_passages:
                raise UnreadableFile(f"it makes {len(chunks):,} passages; the limit is "
                                     f"{self.limits.max_passages:,}, so split it")
            self._check_topic_ids(chunks, source, topics)
            return chunks
        return prepare

    def _check_topic_ids(self, chunks: list[Chunk], source: str, topics: dict[str, str]) -> None:
        """A programme's own topic may not take the id of a topic from another file: the
        catalogue would keep only one of the two. ``topics``: the ids known so far this run."""
        new = [c for c in chunks if c.metadata.get("kind") == "topic" and c.metadata.get("topic_id")]
        if not new:
            return
        if not topics:
            for c in self.index.get(MetadataFilter.of(kind=["topic"], scope=["global"]),
                                    include_text=False):
                topics.setdefault(str(c.metadata.get("topic_id")), str(c.metadata.get("source")))
        for chunk in new:
            topic_id = str(chunk.metadata["topic_id"])
            owner = topics.setdefault(topic_id, source)
            if owner != source:
                raise UnreadableFile(f"topic id {topic_id!r} is already used by {owner}; "
                                     "give this topic a new id")

    def _ingest_files(self, files: list[tuple[Path, str]], prepare: Prepare,
                      report: IngestReport, progress: Progress | None) -> None:
        known = self.manifest.all()
        # Old manifests named files by server path; a file ingested under its name replaces
        # its old entry, which is how those manifests migrate.
        renamed: dict[Path, list[str]] = {}
        for source, entry in known.items():
            if entry.path and is_server_path(source):
                renamed.setdefault(Path(entry.path).resolve(), []).append(source)
        pending: list[Chunk] = []
        entries: list[DocumentRecord] = []
        superseded: list[str] = []
        for n, (path, source) in enumerate(files, 1):
            if progress:
                progress("reading", n, len(files))
            old_names = [old for old in renamed.get(path.resolve(), []) if old != source]
            try:
                data = path.read_bytes()
                digest = content_hash(data)
                previous = known.get(source)
                if previous and previous.content_hash == digest:
                    indexed = self._indexed_count(source)
                    if indexed == previous.chunk_count:
                        report.chunks_unchanged += indexed
                        superseded += old_names
                        continue
                chunks = prepare(path, source, digest)
            except OSError as exc:
                report.skipped.append({"path": source,
                                       "reason": f"cannot be read ({exc.strerror or exc})"})
                continue
            except UnreadableFile as exc:
                report.skipped.append({"path": source, "reason": str(exc)})
                continue
            superseded += old_names  # dropped once this file is indexed under its name
            # Replace whatever this file had in the index (also heals a crashed ingest).
            stale = self.index.get(MetadataFilter.of(source=[source]), include_text=False)
            if stale:
                self.index.delete(where=MetadataFilter.of(source=[source]))
                report.chunks_removed += len(stale)
            pending.extend(chunks)
            entries.append(
                DocumentRecord(source, str(path.resolve()), chunks[0].metadata["kind"], digest,
                               len(chunks), chunks[0].metadata["title"], utcnow())
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
        for old in superseded:  # only now that the new entries are in place
            report.chunks_removed += self.remove_source(old)

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
