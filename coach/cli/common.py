"""What every command shares: the container, output, JSON, and the options most commands take."""

from __future__ import annotations

import atexit
import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from coach.container import Container
from coach.settings import Settings

out = Console()
err = Console(stderr=True)
_container: Container | None = None

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
BackendOpt = Annotated[str | None, typer.Option(
    "--backend", help="embedded, openai or none (default: settings).")]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="Date YYYY-MM-DD (default today).")]


def get_container() -> Container:
    global _container
    if _container is None:
        _container = Container(Settings())
    return _container


def set_container(value: Container | None) -> None:
    """Bind a container (tests bind one with fakes)."""
    global _container
    _container = value


def initialised() -> Container:
    """The container, once its store has been created (`coach init`)."""
    container = get_container()
    container.store.require_initialised()
    return container


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def provenance_line(p: dict[str, Any]) -> str:
    line = f"backend {p['backend']} · {p['latency_ms']} ms"
    if p.get("fallback"):
        line += f" · fallback: {p['fallback_reason']}"
    return line


def progress():
    """A progress callback drawing bars on a terminal; None when output goes elsewhere."""
    if not sys.stdout.isatty():
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   console=out, transient=True)
    tasks: dict[str, Any] = {}

    def update(what: str, done: int, total: int) -> None:
        if not tasks:
            bar.start()
        if what not in tasks:
            tasks[what] = bar.add_task(what, total=total)
        bar.update(tasks[what], completed=done, total=total)
        if what == "embedding" and done >= total:
            bar.stop()

    atexit.register(bar.stop)
    return update


def print_ingest(report: dict[str, Any]) -> None:
    out.print(f"Ingested {report['files']} files: {report['chunks_added']} chunks added, "
              f"{report['chunks_unchanged']} unchanged, {report['chunks_removed']} removed.")
    for skip in report["skipped"]:
        err.print(f"skipped {skip['path']}: {skip['reason']}")
