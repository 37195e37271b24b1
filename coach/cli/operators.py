"""Commands for whoever runs the coach: set it up, feed it documents, serve it, back it up and
check it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from coach.cli.common import JsonOpt, emit_json, get_container, initialised, out, print_ingest, progress
from coach.domain.errors import InvalidInput
from coach.operations.backup import read_export, write_export, write_person_export
from coach.operations.doctor import run_doctor
from coach.operations.setup import initialise, restore

app = typer.Typer()


@app.command()
def init(
    demo: Annotated[bool, typer.Option("--demo", help="Also load the demo programme.")] = False,
    programme: Annotated[str, typer.Option(help="Name of the programme to create.")] =
        "Reverse mentoring programme",
    as_json: JsonOpt = False,
) -> None:
    """Create and migrate the store, ingest knowledge/, and optionally load the demo."""
    result = initialise(get_container(), demo=demo, programme=programme,
                        progress=None if as_json else progress())
    if as_json:
        emit_json(result)
        return
    out.print(f"Store ready at {result['data_dir']} ({result['database']}).")
    print_ingest(result["ingest"])
    d = result.get("demo")
    if d and d.get("status"):
        out.print(f"Demo programme {d['programme']!r} {d['status']}.")
    elif d:
        out.print(f"Demo programme {d['programme']!r}: {d['people']} people, {d['pairs']} pairs, "
                  f"{d['sessions']} sessions, {d['reflections']} reflections.")
        for w in d["warnings"]:
            out.print(f"[yellow]warning:[/] {w}")
    out.print(f"Done in {result['seconds']} s.")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (.md .txt .html .pdf .docx).")],
    prune: Annotated[bool, typer.Option(
        "--prune", help="Drop chunks of files that no longer exist.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Add or update documents in the knowledge index (idempotent)."""
    container = initialised()
    started = time.perf_counter()
    report = container.ingestor.ingest(paths, prune=prune, progress=None if as_json else progress())
    if as_json:
        emit_json(report.to_dict())
        return
    print_ingest(report.to_dict())
    out.print(f"Done in {time.perf_counter() - started:.2f} s.")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    pair: Annotated[int | None, typer.Option("--pair", help="Also search this pair's records.")] = None,
    focus: Annotated[str | None, typer.Option(help="technology, generational or inclusion.")] = None,
    kind: Annotated[list[str] | None, typer.Option(
        help="guideline, topic, document, pair_goals, pair_summary.")] = None,
    k: Annotated[int, typer.Option("-k", help="How many results.")] = 5,
    as_json: JsonOpt = False,
) -> None:
    """Hybrid (BM25 + vector) search over the guidelines and, with --pair, that pair's records."""
    container = initialised()
    if pair is not None:
        container.store.get_pair(pair)
    hits = container.retriever.search(query, k, pair_id=pair, focus=focus, kinds=kind)
    if as_json:
        emit_json([h.to_dict() for h in hits])
        return
    if not hits:
        out.print("No results.")
    for i, hit in enumerate(hits, 1):
        out.print(f"[bold]{i}. {hit.heading}[/]  [dim]{hit.source}  score {hit.score:.3f}[/]")
        text = hit.text if len(hit.text) < 400 else hit.text[:400].rsplit(" ", 1)[0] + " …"
        out.print(text, markup=False, highlight=False)
        out.print()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (use a Chroma server and "
                                         "PostgreSQL for more than one).")] = 1,
) -> None:
    """Serve the API and the web pages."""
    import uvicorn

    container = initialised()
    if workers > 1 and not container.settings.vector_store_is_server:
        raise InvalidInput("Several workers need a Chroma server (COACH_VECTOR_STORE=http://host:port): "
                           "an embedded Chroma index is not safe to share between processes.")
    # The app reads X-Forwarded-For itself, from COACH_TRUSTED_PROXIES only: uvicorn's own
    # proxy headers would believe any client on loopback.
    if workers > 1:
        uvicorn.run("api.main:app", host=host, port=port, workers=workers, log_level="info",
                    proxy_headers=False)
        return
    from api.app import create_app, warm_up

    warm_up(container)  # before listening: the first request is served warm
    uvicorn.run(create_app(container), host=host, port=port, log_level="info", proxy_headers=False)


@app.command()
def doctor(repair: Annotated[bool, typer.Option("--repair", help="Fix what can be fixed.")] = False,
           as_json: JsonOpt = False) -> None:
    """Check that the store and the index agree; --repair fixes what it finds."""
    report = run_doctor(initialised(), repair=repair)
    if as_json:
        emit_json(report.to_dict())
    else:
        out.print(f"Checked {report.checked}.")
        for f in report.findings:
            mark = "repaired" if f.repaired else "problem"
            out.print(f"  [{mark}] {f.check}: {f.detail}", markup=False)
        out.print("All consistent." if not report.findings else
                  ("Repaired." if report.ok else "Problems remain; run `coach doctor --repair`."))
    if not report.ok:
        raise typer.Exit(1)


@app.command("export")
def export_command(file: Annotated[Path, typer.Argument(help="Where to write the JSON export.")],
                   person: Annotated[str | None, typer.Option(
                       "--person", help="Export one person's own data (id or email), for them.")
                   ] = None,
                   as_json: JsonOpt = False) -> None:
    """Export the whole programme store (people, pairs, sessions, reflections, summaries,
    action items, chat history, token hashes) to one JSON file, or one person's data."""
    container = initialised()
    if person is not None:
        who = container.store.get_person(person)
        write_person_export(container.store, container.tokens, who, file)
        if as_json:
            emit_json({"file": str(file), "person": who.id})
        else:
            out.print(f"Exported the data of {who.name} (id {who.id}) to {file}.")
        return
    counts = write_export(container.db, file)
    if as_json:
        emit_json({"file": str(file), "rows": counts})
    else:
        out.print(f"Exported to {file}: " + ", ".join(f"{n} {t}" for t, n in counts.items()))


@app.command("import")
def import_command(file: Annotated[Path, typer.Argument(help="A file written by `coach export`.")],
                   as_json: JsonOpt = False) -> None:
    """Import an export into an empty data directory, then rebuild the index."""
    result = restore(get_container(), read_export(file))
    if as_json:
        emit_json({"file": str(file), **result})
    else:
        out.print(f"Imported {file}: " + ", ".join(f"{n} {t}" for t, n in result["rows"].items()))

