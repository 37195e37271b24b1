"""Read untrusted files in a child process, with a wall-clock and a memory limit per file.

The loaders are linear and capped, but a parser library can still spend long on one crafted
file (a PDF's content streams, python-docx on a large table). A child process can be killed
where a thread cannot, and its CPU and memory never slow the workers that answer requests.
One child reads all the files of one ingestion in turn; it is replaced after a kill.

The child is a plain `python -c` process (not multiprocessing), so it never re-runs the
parent's main script, and it speaks JSON lines, so nothing it sends back is unpickled.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from coach.domain.errors import BackendUnavailable
from coach.domain.limits import DEFAULT_LIMITS, READER_MEMORY_BYTES, SECONDS_PER_FILE, ReadLimits, megabytes
from coach.ingest.loaders import LoadedDocument, Section, UnreadableFile

_POLL_SECONDS = 0.2  # how often a waiting reader checks for a stop request
_START_SECONDS = 60.0  # for the child to start (Python and the loaders' imports), not a file's
READY = "ready"
# The same coach package as the parent's, whatever is installed elsewhere.
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_CHILD_CODE = ("import sys; sys.path.insert(0, sys.argv[1]); "
               "from coach.ingest.isolation import serve; serve(int(sys.argv[2]))")


class ReadInterrupted(Exception):
    """The reader was asked to stop (the service is shutting down) in the middle of a file."""


def _limit_this_process(memory_bytes: int) -> None:
    try:
        os.nice(10)  # the processes answering requests come first
    except (AttributeError, OSError):
        pass
    try:
        import resource

        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = memory_bytes if hard == resource.RLIM_INFINITY else min(memory_bytes, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, ValueError, OSError):
        pass  # not on this platform: the wall-clock limit still applies


def _document_to_json(doc: LoadedDocument) -> dict[str, Any]:
    return {"title": doc.title, "front_matter": doc.front_matter,
            "sections": [asdict(s) for s in doc.sections]}


def _document_from_json(data: dict[str, Any]) -> LoadedDocument:
    return LoadedDocument(data["title"], data["front_matter"],
                          [Section(s["headings"], s["text"], s["questions"])
                           for s in data["sections"]])


def _read_one(request: dict[str, Any], memory_bytes: int) -> tuple[dict[str, Any], bool]:
    """(answer, keep serving) for one request of the parent."""
    from coach.ingest.loaders import load_file

    try:
        doc = load_file(Path(request["path"]), ReadLimits(**request["limits"]))
        return {"document": _document_to_json(doc)}, True
    except UnreadableFile as exc:
        return {"refused": str(exc)}, True
    except RecursionError:
        return {"refused": "it is nested too deeply to read"}, True
    except MemoryError:
        return {"refused": f"reading it needs more than {megabytes(memory_bytes)} of memory"}, False
    except Exception as exc:  # a parser bug on odd input: refuse the file, not the ingestion
        return {"refused": f"it could not be read ({exc.__class__.__name__})"}, False


def serve(memory_bytes: int) -> None:
    """The child: one JSON request a line on stdin, one JSON answer a line on stdout."""
    _limit_this_process(memory_bytes)
    out = sys.stdout
    sys.stdout = sys.stderr  # a library's stray print must not corrupt the answers
    out.write(READY + "\n")  # started and imported: from here on, the clock is the file's
    out.flush()
    for line in sys.stdin:
        answer, keep_serving = _read_one(json.loads(line), memory_bytes)
        out.write(json.dumps(answer, default=str) + "\n")  # default=str: YAML dates
        out.flush()
        if not keep_serving:
            return  # after a MemoryError or a parser bug the next file gets a fresh child


class IsolatedReader:
    """``reader(path)`` -> LoadedDocument, or UnreadableFile with a one-line reason.

    Use it as a context manager, so the child is gone when the ingestion is."""

    def __init__(self, seconds_per_file: float = SECONDS_PER_FILE,
                 limits: ReadLimits = DEFAULT_LIMITS, *,
                 memory_bytes: int = READER_MEMORY_BYTES, stop: threading.Event | None = None):
        self.seconds_per_file = seconds_per_file
        self.limits = limits
        self.memory_bytes = memory_bytes
        self.stop = stop
        self._process: subprocess.Popen | None = None
        self._answers: queue.Queue[str] = queue.Queue()

    def __enter__(self) -> IsolatedReader:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def _start(self) -> subprocess.Popen:
        if self._process is not None and self._process.poll() is None:
            return self._process
        self.close()
        process = subprocess.Popen(
            [sys.executable, "-c", _CHILD_CODE, _PACKAGE_ROOT, str(self.memory_bytes)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, encoding="utf-8")
        answers: queue.Queue[str] = queue.Queue()
        # A thread per child turns its blocking stdout into a queue we can wait on with a
        # timeout; it ends when the child's stdout closes.
        threading.Thread(target=_pump, args=(process.stdout, answers), daemon=True,
                         name="coach-reader-pipe").start()
        self._process, self._answers = process, answers
        if self._wait(_START_SECONDS, "") != READY + "\n":
            code = process.poll()
            self.close()
            raise BackendUnavailable(f"The document reader process did not start (exit code "
                                     f"{code}); check that {sys.executable} runs.")
        return process

    def _wait(self, seconds: float, path: str) -> str | None:
        """The child's next line ("" at EOF), or None after ``seconds``."""
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                return self._answers.get(timeout=min(_POLL_SECONDS, remaining))
            except queue.Empty:
                pass
            if self.stop is not None and self.stop.is_set():
                self.close()
                raise ReadInterrupted(path)

    def __call__(self, path: Path) -> LoadedDocument:
        request = json.dumps({"path": str(path), "limits": asdict(self.limits)}) + "\n"
        process = self._start()
        try:
            process.stdin.write(request)
            process.stdin.flush()
        except (BrokenPipeError, OSError):  # the child died between files: start another
            self.close()
            process = self._start()
            process.stdin.write(request)
            process.stdin.flush()
        line = self._wait(self.seconds_per_file, str(path))
        if line is None:
            self.close()
            limit = f"{self.seconds_per_file:g} s"
            raise UnreadableFile(f"reading it took over {limit}; the limit is {limit}")
        if not line:  # EOF: the child died on this file
            code = process.wait()
            self.close()
            raise UnreadableFile(f"the reader stopped while reading it (exit code {code}); "
                                 "it may need too much memory")
        answer = json.loads(line)
        if "refused" in answer:
            raise UnreadableFile(answer["refused"])
        return _document_from_json(answer["document"])

    def close(self) -> None:
        """Kill the child: idle or busy, it holds nothing worth waiting for."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        for stream in (process.stdin, process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        process.wait()


def _pump(stream, answers: queue.Queue[str]) -> None:
    try:
        for line in stream:
            answers.put(line)
    except (OSError, ValueError):
        pass
    answers.put("")  # EOF
