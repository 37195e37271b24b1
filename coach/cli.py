"""The `coach` command: a thin layer over the library. Every data command takes --json."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from rich.table import Table

from coach.container import Container
from coach.domain.errors import CoachError, InvalidInput
from coach.domain.records import pair_summary
from coach.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Reverse-mentoring session coach.")
users_app = typer.Typer(no_args_is_help=True, help="People in the programme.")
pairs_app = typer.Typer(no_args_is_help=True, help="Mentoring pairs.")
sessions_app = typer.Typer(no_args_is_help=True, help="A pair's sessions.")
app.add_typer(users_app, name="users")
tokens_app = typer.Typer(no_args_is_help=True, help="Access tokens and sign-in sessions.")
app.add_typer(tokens_app, name="tokens")
app.add_typer(pairs_app, name="pairs")
app.add_typer(sessions_app, name="sessions")
programme_app = typer.Typer(no_args_is_help=True, help="The programme and its health thresholds.")
app.add_typer(programme_app, name="programme")
reader_app = typer.Typer(no_args_is_help=True, help="The reflection reader's classifiers.")
app.add_typer(reader_app, name="reader")

out = Console()
err = Console(stderr=True)
_container: Container | None = None

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def container() -> Container:
    global _container
    if _container is None:
        _container = Container(Settings())
    return _container


def set_container(value: Container | None) -> None:
    """Bind a container (tests bind one with fakes)."""
    global _container
    _container = value


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def initialised() -> Container:
    c = container()
    c.store.require_initialised()
    return c


# -- init, ingest, search ----------------------------------------------------
@app.command()
def init(
    demo: Annotated[bool, typer.Option("--demo", help="Also load the demo programme.")] = False,
    programme: Annotated[str, typer.Option(help="Name of the programme to create.")] =
        "Reverse mentoring programme",
    as_json: JsonOpt = False,
) -> None:
    """Create and migrate the store, ingest knowledge/, and optionally load the demo."""
    c = container()
    started = time.perf_counter()
    c.db.migrate()
    result: dict[str, Any] = {"data_dir": str(c.settings.data_dir.resolve()),
                              "database": c.db.engine.url.render_as_string(hide_password=True)}
    if not c.settings.knowledge_dir.is_dir():
        raise InvalidInput(f"The knowledge folder {c.settings.knowledge_dir} does not exist. "
                           "Set COACH_KNOWLEDGE_DIR.")
    report = c.ingestor.ingest([c.settings.knowledge_dir], prune=True,
                               progress=None if as_json else _progress())
    result["ingest"] = report.to_dict()
    if demo:
        from coach.operations.demo import demo_data, load_demo, summariser_for

        name = demo_data()["programme"]["name"]
        if any(p.name == name for p in c.store.list_programmes()):
            result["demo"] = {"programme": name, "status": "already loaded"}
        else:
            result["demo"] = load_demo(
                c.store, c.programme, summarise=summariser_for(c.store, c.features("none"))).to_dict()
    elif not c.store.list_programmes():
        c.store.create_programme(programme)
    result["programmes"] = [p.name for p in c.store.list_programmes()]
    result["seconds"] = round(time.perf_counter() - started, 2)
    if as_json:
        emit_json(result)
        return
    out.print(f"Store ready at {result['data_dir']} ({result['database']}).")
    _print_ingest(report.to_dict())
    if "demo" in result:
        d = result["demo"]
        if d.get("status"):
            out.print(f"Demo programme {d['programme']!r} {d['status']}.")
        else:
            out.print(f"Demo programme {d['programme']!r}: {d['people']} people, {d['pairs']} pairs, "
                      f"{d['sessions']} sessions, {d['reflections']} reflections.")
            for w in d["warnings"]:
                out.print(f"[yellow]warning:[/] {w}")
    out.print(f"Done in {result['seconds']} s.")


def _progress():
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

    import atexit

    atexit.register(bar.stop)
    return update


def _print_ingest(report: dict[str, Any]) -> None:
    out.print(f"Ingested {report['files']} files: {report['chunks_added']} chunks added, "
              f"{report['chunks_unchanged']} unchanged, {report['chunks_removed']} removed.")
    for skip in report["skipped"]:
        err.print(f"skipped {skip['path']}: {skip['reason']}")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (.md .txt .html .pdf .docx).")],
    prune: Annotated[bool, typer.Option(
        "--prune", help="Drop chunks of files that no longer exist.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Add or update documents in the knowledge index (idempotent)."""
    c = initialised()
    started = time.perf_counter()
    report = c.ingestor.ingest(paths, prune=prune, progress=None if as_json else _progress())
    if as_json:
        emit_json(report.to_dict())
        return
    _print_ingest(report.to_dict())
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
    c = initialised()
    if pair is not None:
        c.store.get_pair(pair)
    hits = c.retriever.search(query, k, pair_id=pair, focus=focus, kinds=kind)
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


# -- users ----------------------------------------------------------------------
@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument()],
    email: Annotated[str, typer.Option(help="Unique email address.")],
    role: Annotated[str, typer.Option(help="mentor, mentee, coordinator or admin.")],
    department: Annotated[str, typer.Option()] = "",
    manager: Annotated[str | None, typer.Option(help="The manager's id or email.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a person, with a one-time sign-in token for them."""
    from coach.store.credentials import TokenService

    c = initialised()
    person = c.store.add_person(name, email, role, department=department, manager=manager)
    issued = TokenService(c.db).issue_setup(person.id, issued_by=None, label="first sign-in")
    if as_json:
        emit_json({"id": person.id, "token": issued.token, "token_kind": issued.kind,
                   "expires_at": issued.expires_at.isoformat()})
    else:
        out.print(f"Added {person.name} <{person.email}> as {person.role} (id {person.id}).")
        out.print(f"One-time sign-in token (shown once, stored hashed; works once, until "
                  f"{issued.expires_at:%Y-%m-%d}): {issued.token}", markup=False)


@users_app.command("delete")
def users_delete(user: Annotated[str, typer.Argument(help="The person's id or email.")]) -> None:
    """Delete a person who is in no pair, with their credentials."""
    person = initialised().programme.delete_person(user)
    out.print(f"Deleted {person.name} (id {person.id}).")


@users_app.command("anonymise")
def users_anonymise(user: Annotated[str, typer.Argument(help="The person's id or email.")]) -> None:
    """Remove who a person is and everything they wrote (reflections, what was found in them,
    chat, credentials); their pairs keep their dates and shared records."""
    person = initialised().programme.anonymise_person(user)
    out.print(f"Anonymised person {person.id}: now {person.name}.")


@users_app.command("list")
def users_list(role: Annotated[str | None, typer.Option()] = None, as_json: JsonOpt = False) -> None:
    """List people."""
    people = initialised().store.list_people(role)
    if as_json:
        emit_json([p.to_dict() for p in people])
        return
    table = Table("id", "name", "email", "role", "department", "manager")
    for p in people:
        table.add_row(str(p.id), p.name, p.email, p.role, p.department, str(p.manager_id or ""))
    out.print(table)


@tokens_app.command("create")
def tokens_create(
    user: Annotated[str, typer.Argument(help="The person's id or email.")],
    label: Annotated[str, typer.Option(help="A note to recognise the token by.")] = "cli",
    reads_history: Annotated[bool, typer.Option(
        "--reads-history", help="Let it read what the person wrote before now. For an "
        "operator who has checked who the person is (the operator can read the database "
        "anyway); without it, the token reads only what is written from now on.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Issue a one-time sign-in token for a person (shown once, stored hashed, recorded and
    shown to them)."""
    from coach.store.credentials import TokenService

    c = initialised()
    person = c.store.get_person(user)
    issued = TokenService(c.db).issue_setup(person.id, issued_by=None, label=label,
                                            reads_history=reads_history)
    if as_json:
        emit_json({"id": person.id, "email": person.email, "token": issued.token,
                   "token_kind": issued.kind, "expires_at": issued.expires_at.isoformat()})
    else:
        out.print(f"One-time sign-in token for {person.name}: {issued.token}", markup=False)


@tokens_app.command("list")
def tokens_list(user: Annotated[str, typer.Argument(help="The person's id or email.")],
                as_json: JsonOpt = False) -> None:
    """A person's tokens, signed-in sessions and credential events (no secrets)."""
    from coach.operations.backup import jsonable
    from coach.store.credentials import TokenService

    c = initialised()
    person = c.store.get_person(user)
    creds = TokenService(c.db).credentials(person.id)
    if as_json:
        emit_json(jsonable(creds))
        return
    table = Table("id", "label", "kind", "issued by", "created", "last used", "active")
    for t in creds["tokens"]:
        table.add_row(str(t["id"]), t["label"], t["kind"], t["issued_by"],
                      f"{t['created_at']:%Y-%m-%d %H:%M}",
                      f"{t['last_used_at']:%Y-%m-%d %H:%M}" if t["last_used_at"] else "never",
                      "yes" if t["active"] else "no")
    out.print(table)
    out.print(f"{len(creds['sessions'])} signed-in session(s).")


@tokens_app.command("revoke")
def tokens_revoke(user: Annotated[str, typer.Argument(help="The person's id or email.")]) -> None:
    """Revoke every token a person has and end their signed-in sessions."""
    from coach.store.credentials import TokenService

    c = initialised()
    person = c.store.get_person(user)
    count = TokenService(c.db).revoke_all(person.id)
    out.print(f"Revoked {count} token(s) of {person.name} and ended their sessions.")


@app.command("demo-signin")
def demo_signin(as_json: JsonOpt = False) -> None:
    """Issue one-time sign-in tokens for the demo mentor, mentee and coordinator."""
    from coach.operations.demo import demo_data
    from coach.store.credentials import TokenService

    c = initialised()
    name = demo_data()["programme"]["name"]
    programme = next((p for p in c.store.list_programmes() if p.name == name), None)
    if programme is None:
        raise InvalidInput("The demo programme is not loaded. Run `coach init --demo` first.")
    pairs = [p for p in c.store.list_pairs(status="active") if p.programme_id == programme.id]
    coordinator = next(p for p in c.store.list_people("coordinator"))
    tokens = TokenService(c.db)
    people = [("mentor", pairs[0].mentor), ("mentee", pairs[0].mentee),
              ("coordinator", coordinator)]
    # The operator loaded the demo's history, so these may read it (--reads-history).
    rows = [{"as": label, "name": p.name, "email": p.email,
             "token": tokens.issue_setup(p.id, issued_by=None, label="demo sign-in",
                                         reads_history=True).token} for label, p in people]
    if as_json:
        emit_json(rows)
        return
    lines = ["Sign in at http://127.0.0.1:8000/login with one of these (each works once; "
             "run `coach demo-signin` again for more):"]
    lines += [f"  {r['as']:<12} {r['name']:<20} {r['email']}\n{'':<15}token {r['token']}"
              for r in rows]
    sys.stdout.write("\n".join(lines) + "\n")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (use a Chroma server and "
                                         "PostgreSQL for more than one).")] = 1,
) -> None:
    """Serve the API and the web pages."""
    import uvicorn

    c = initialised()
    if workers > 1 and not c.settings.vector_store_is_server:
        raise InvalidInput("Several workers need a Chroma server (COACH_VECTOR_STORE=http://host:port): "
                           "an embedded Chroma index is not safe to share between processes.")
    if workers > 1:
        uvicorn.run("api.main:app", host=host, port=port, workers=workers, log_level="info",
                    proxy_headers=False)
    else:
        from api.app import create_app, warm_up

        warm_up(c)  # before listening: the first request is served warm
        # The app reads X-Forwarded-For itself, from COACH_TRUSTED_PROXIES only: uvicorn's own
        # proxy headers would believe any client on loopback.
        uvicorn.run(create_app(c), host=host, port=port, log_level="info", proxy_headers=False)


# -- pairs ----------------------------------------------------------------------
@pairs_app.command("list")
def pairs_list(status: Annotated[str | None, typer.Option()] = None, as_json: JsonOpt = False) -> None:
    """List pairs."""
    pairs = initialised().store.list_pairs(status=status)
    if as_json:
        emit_json([pair_summary(p) for p in pairs])
        return
    table = Table("id", "mentor", "mentee", "focus", "cadence", "status", "sessions held", "last held")
    for p in pairs:
        s = pair_summary(p)
        table.add_row(str(p.id), p.mentor.name, p.mentee.name, ", ".join(p.focus),
                      f"{p.cadence_days} d", p.status, str(s["sessions_held"]), s["last_held"] or "-")
    out.print(table)


def pair_detail(p) -> dict[str, Any]:
    """A pair's records as a coordinator sees them: reflections by id and visibility, and the
    action items that are not their authors' alone."""
    from coach.domain.access import PROGRAMME_VIEW, visible_action_items

    data = pair_summary(p)
    data.update({
        "mentor": p.mentor.to_dict(), "mentee": p.mentee.to_dict(),
        "ends_on": p.ends_on.isoformat() if p.ends_on else None,
        "goals": [g.to_dict() for g in p.goals],
        "sessions": [{"id": s.id, "date": s.date.isoformat(), "status": s.status,
                      "minutes": s.minutes, "has_agenda": s.agenda is not None,
                      "reflections": [{"id": r.id, "author_role": r.author_role,
                                       "visibility": r.visibility} for r in s.reflections]}
                     for s in p.sessions],
        "action_items": [a.to_dict() for a in visible_action_items(PROGRAMME_VIEW, p)],
    })
    return data


@pairs_app.command("show")
def pairs_show(pair_id: Annotated[int, typer.Argument()], as_json: JsonOpt = False) -> None:
    """Show a pair: goals, sessions and action items."""
    p = initialised().store.get_pair(pair_id)
    data = pair_detail(p)
    if as_json:
        emit_json(data)
        return
    out.print(f"[bold]Pair {p.id}[/]: {p.mentor.name} ({p.mentor.department}) mentors "
              f"{p.mentee.name} ({p.mentee.department})")
    out.print(f"Focus: {', '.join(p.focus)} · every {p.cadence_days} days · since {p.starts_on} · {p.status}")
    out.print("[bold]Goals[/]")
    for g in p.goals:
        out.print(f"  [{g.id}] {g.text} — {g.status.replace('_', ' ')}", markup=False)
    out.print("[bold]Sessions[/]")
    for s in p.sessions:
        refl = f", {len(s.reflections)} reflection(s)" if s.reflections else ""
        out.print(f"  [{s.id}] {s.date} {s.status} {s.minutes} min{refl}", markup=False)
    out.print("[bold]Action items[/]")
    for a in data["action_items"]:
        box = "x" if a["done"] else " "
        due = f" (due {a['due']})" if a["due"] else ""
        out.print(f"  [{box}] #{a['id']} {a['owner']}: {a['text']}{due}", markup=False)


@pairs_app.command("add")
def pairs_add(
    mentor: Annotated[str, typer.Option(help="Mentor id or email (the junior).")],
    mentee: Annotated[str, typer.Option(help="Mentee id or email (the senior).")],
    focus: Annotated[list[str], typer.Option(help="technology, generational or inclusion; repeat for more.")],
    goal: Annotated[list[str] | None, typer.Option(help="A goal; repeat for more.")] = None,
    cadence: Annotated[int | None, typer.Option(
        help="Days between sessions (default: the programme's).")] = None,
    starts: Annotated[str | None, typer.Option(help="Start date YYYY-MM-DD (default today).")] = None,
    ends: Annotated[str | None, typer.Option(help="End date YYYY-MM-DD.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Pair a mentor with a mentee (the brief's pairing rules are enforced)."""
    c = initialised()
    created = c.programme.add_pair(mentor, mentee, focus, goals=goal or [], cadence_days=cadence,
                                   starts_on=starts, ends_on=ends)
    if as_json:
        emit_json({"id": created.pair.id, "warnings": created.warnings})
        return
    for w in created.warnings:
        err.print(f"warning: {w}")
    out.print(f"Created pair {created.pair.id}: {created.pair.label}.")


@pairs_app.command("status")
def pairs_status(
    pair_id: Annotated[int, typer.Argument()],
    status: Annotated[str, typer.Argument(help="active, paused or closed.")],
    as_json: JsonOpt = False,
) -> None:
    """Pause, resume or close a pair."""
    p = initialised().store.set_pair_status(pair_id, status)
    if as_json:
        emit_json({"id": p.id, "status": p.status})
        return
    out.print(f"Pair {p.id} ({p.label}) is now {p.status}.")


@pairs_app.command("delete")
def pairs_delete(pair_id: Annotated[int, typer.Argument()],
                 yes: Annotated[bool, typer.Option("--yes", help="Confirm: this cannot be undone.")
                                ] = False) -> None:
    """Delete a pair with its goals, sessions, reflections, action items, chat and index entries."""
    c = initialised()
    pair = c.store.get_pair(pair_id)
    if not yes:
        raise InvalidInput(f"Deleting pair {pair_id} ({pair.label}) removes everything its "
                           "members wrote. Add --yes to confirm.")
    c.programme.delete_pair(pair_id)
    out.print(f"Deleted pair {pair_id} ({pair.label}).")


# -- sessions ---------------------------------------------------------------------
@sessions_app.command("log")
def sessions_log(
    pair_id: Annotated[int, typer.Argument()],
    date: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    status: Annotated[str, typer.Option(help="held, scheduled, cancelled or no_show.")] = "held",
    minutes: Annotated[int | None, typer.Option(help="Length (default: the programme's).")] = None,
    notes: Annotated[str, typer.Option()] = "",
    as_json: JsonOpt = False,
) -> None:
    """Log a held, cancelled or missed session, or schedule one."""
    session = initialised().store.log_session(pair_id, date, status, minutes=minutes, notes=notes)
    if as_json:
        emit_json({"id": session.id, "pair_id": pair_id, "date": session.date.isoformat(),
                   "status": session.status, "minutes": session.minutes})
        return
    out.print(f"Logged session {session.id} for pair {pair_id}: {session.date} {session.status}, "
              f"{session.minutes} min.")


@sessions_app.command("list")
def sessions_list(pair_id: Annotated[int, typer.Argument()], as_json: JsonOpt = False) -> None:
    """List a pair's sessions."""
    p = initialised().store.get_pair(pair_id)
    rows = pair_detail(p)["sessions"]
    if as_json:
        emit_json(rows)
        return
    table = Table("id", "date", "status", "minutes", "reflections", "agenda")
    for s in rows:
        table.add_row(str(s["id"]), s["date"], s["status"], str(s["minutes"]),
                      str(len(s["reflections"])), "yes" if s["has_agenda"] else "")
    out.print(table)


# -- coach features -----------------------------------------------------------------
BackendOpt = Annotated[str | None, typer.Option(
    "--backend", help="embedded, openai or none (default: settings).")]


def _provenance_line(p: dict[str, Any]) -> str:
    line = f"backend {p['backend']} · {p['latency_ms']} ms"
    if p.get("fallback"):
        line += f" · fallback: {p['fallback_reason']}"
    return line


@app.command()
def agenda(
    pair_id: Annotated[int, typer.Argument(help="The pair.")],
    minutes: Annotated[int | None, typer.Option(
        help="Session length, 15 to 120 (default: the programme's).")] = None,
    save: Annotated[bool, typer.Option(help="Save the agenda on the next session.")] = True,
    lead: Annotated[str | None, typer.Option(help="Lead with one of the alternatives an agenda "
                                             "lists: a topic id, or 'goal'.")] = None,
    backend: BackendOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A timed agenda for the pair's next session."""
    from coach.features.agenda import agenda_markdown

    c = initialised()
    result = c.features(backend).agenda(pair_id, minutes, save=save, lead=lead)
    if as_json:
        emit_json(result)
        return
    from rich.markdown import Markdown

    out.print(Markdown(agenda_markdown(result, c.store.get_pair(pair_id))))


@app.command()
def topics(
    pair_id: Annotated[int, typer.Argument(help="The pair.")],
    k: Annotated[int, typer.Option("-k", help="How many topics (1-10).")] = 3,
    backend: BackendOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Topic suggestions that fit the pair's focus and goals and are new to them."""
    result = initialised().features(backend).topics(pair_id, k)
    if as_json:
        emit_json(result)
        return
    for i, t in enumerate(result["topics"], 1):
        out.print(f"[bold]{i}. {t['title']}[/] [dim]({t['id']}, {t['focus']}, {t['level']})[/]")
        out.print(f"   {t['why']}", markup=False, highlight=False)
        for starter in t["starters"]:
            out.print(f"   • {starter}", markup=False, highlight=False)
    out.print(f"[dim]{_provenance_line(result['provenance'])}[/]")


@app.command()
def reflect(
    pair_id: Annotated[int, typer.Argument(help="The pair.")],
    file: Annotated[str, typer.Option("--file", help="The reflection text file, or - for stdin.")],
    session: Annotated[int | None, typer.Option(
        "--session", help="The session (default: the last held one).")] = None,
    author: Annotated[str | None, typer.Option(help="Author id or email (default: the mentee).")] = None,
    visibility: Annotated[str, typer.Option(
        help="private (you alone), pair (your partner sees the summary you confirm) or "
             "programme (the coordinator too).")] = "private",
    backend: BackendOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Save a reflection and summarise it: summary, key points, action items, blockers."""
    c = initialised()
    if file == "-":
        text = sys.stdin.read()
    else:
        path = Path(file)
        if not path.is_file():
            raise InvalidInput(f"No such file: {file}. Pass a text file, or - to read stdin.")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"{file} is not UTF-8 text. Save it as UTF-8.") from None
    pair = c.store.get_pair(pair_id)
    result = c.features(backend).reflect(pair_id, session, author or pair.mentee.id, text,
                                      visibility=visibility)
    if as_json:
        emit_json(result)
        return
    out.print(f"[bold]Summary[/] (reflection {result['reflection_id']}, session {result['session_id']}"
              f", {result['visibility']})")
    out.print(result["summary"], markup=False, highlight=False)
    for title, key in (("Key points", "key_points"), ("Blockers", "blockers")):
        if result[key]:
            out.print(f"[bold]{title}[/]")
            for x in result[key]:
                out.print(f"  • {x}", markup=False, highlight=False)
    if result["action_items"]:
        out.print("[bold]Action items[/] (saved on the pair)")
        for a in result["action_items"]:
            due = f" — due {a['due']}" if a["due"] else ""
            out.print(f"  • {a['owner']}: {a['text']}{due}", markup=False, highlight=False)
    out.print(f"Sentiment {result['sentiment']}, engagement {result['engagement']}.")
    out.print(f"[dim]{_provenance_line(result['provenance'])}[/]")


@app.command()
def chat(
    pair_id: Annotated[int, typer.Argument(help="The pair.")],
    as_person: Annotated[str | None, typer.Option(
        "--as", help="Your id or email (default: the mentor).")] = None,
    message: Annotated[str | None, typer.Option("--message", "-m", help="Ask one question and exit.")] = None,
    backend: BackendOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask the coach about your pair; answers cite the guidelines. Empty line or Ctrl-D ends."""
    c = initialised()
    pair = c.store.get_pair(pair_id)
    person = as_person or str(pair.mentor.id)
    coach = c.features(backend)
    interactive = message is None
    while True:
        if interactive:
            try:
                question = input("you> ").strip()
            except EOFError:
                break
            if not question:
                break
        else:
            question = message
        done: dict[str, Any] = {}
        for event in coach.chat(pair_id, person, question):
            if event.type == "token" and not as_json:
                sys.stdout.write(event.data)
                sys.stdout.flush()
            elif event.type == "done":
                done = event.data
        if as_json:
            emit_json(done)
        else:
            sys.stdout.write("\n")
            for cite in done["citations"]:
                out.print(f"  [{cite['n']}] {cite['source']} › {cite['heading']}", markup=False,
                          highlight=False)
            out.print(f"[dim]{_provenance_line(done['provenance'])}[/]")
        if not interactive:
            break


# -- programme ----------------------------------------------------------------------
@programme_app.command("show")
def programme_show(as_json: JsonOpt = False) -> None:
    """The programme, with its health thresholds (defaults merged with overrides)."""
    from coach.health.signals import HealthThresholds

    c = initialised()
    programmes = []
    for p in c.store.list_programmes():
        data = p.to_dict()
        effective, refused = HealthThresholds.from_stored(p.health_thresholds)
        data["effective_thresholds"] = effective.to_dict()
        data["ignored_thresholds"] = refused
        programmes.append(data)
    if as_json:
        emit_json(programmes)
        return
    for p in programmes:
        out.print(f"[bold]{p['name']}[/] (id {p['id']}): sessions every {p['default_cadence_days']} "
                  f"days, {p['default_session_minutes']} minutes; {p['starts_on']} to {p['ends_on']}")
        for key, value in p["effective_thresholds"].items():
            mark = " (set)" if key in p["health_thresholds"] else ""
            if key in p["ignored_thresholds"]:
                mark = f" (stored {p['health_thresholds'][key]!r} ignored: reset it with {key}=)"
            out.print(f"  {key} = {value}{mark}", markup=False)


@programme_app.command("thresholds")
def programme_thresholds(
    settings_: Annotated[list[str], typer.Argument(
        metavar="KEY=VALUE", help="Thresholds to set; KEY= resets one.")],
    programme: Annotated[int | None, typer.Option(help="Programme id (default: the first).")] = None,
) -> None:
    """Override health thresholds for a programme, e.g. `gap_warn_ratio=2 missed_stalled=4`."""

    c = initialised()
    current = c.store.get_programme(programme)
    overrides = dict(current.health_thresholds)
    for item in settings_:
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidInput(f"{item!r} is not KEY=VALUE.")
        if value == "":
            overrides.pop(key.strip(), None)
        else:
            overrides[key.strip()] = value.strip()
    updated = c.monitor.set_thresholds(current.id, overrides)
    out.print(f"Health thresholds for {current.name}: {updated.health_thresholds or 'defaults'}")


# -- backups and repair ---------------------------------------------------------------
@app.command("export")
def export_command(file: Annotated[Path, typer.Argument(help="Where to write the JSON export.")],
                   person: Annotated[str | None, typer.Option(
                       "--person", help="Export one person's own data (id or email), for them.")
                   ] = None,
                   as_json: JsonOpt = False) -> None:
    """Export the whole programme store (people, pairs, sessions, reflections, summaries,
    action items, chat history, token hashes) to one JSON file, or one person's data."""
    from coach.operations.backup import write_export, write_person_export

    c = initialised()
    if person is not None:
        from coach.store.credentials import TokenService

        who = c.store.get_person(person)
        write_person_export(c.store, TokenService(c.db), who, file)
        if as_json:
            emit_json({"file": str(file), "person": who.id})
        else:
            out.print(f"Exported the data of {who.name} (id {who.id}) to {file}.")
        return
    counts = write_export(c.db, file)
    if as_json:
        emit_json({"file": str(file), "rows": counts})
    else:
        out.print(f"Exported to {file}: " + ", ".join(f"{n} {t}" for t, n in counts.items()))


@app.command("import")
def import_command(file: Annotated[Path, typer.Argument(help="A file written by `coach export`.")],
                   as_json: JsonOpt = False) -> None:
    """Import an export into an empty data directory, then rebuild the index."""
    from coach.operations.backup import read_export
    from coach.store.dump import import_store

    c = container()
    data = read_export(file)
    c.db.migrate()
    counts = import_store(c.db, data)
    c.ingestor.ingest([c.settings.knowledge_dir], prune=True)
    reindexed = c.programme.reindex_all()
    if as_json:
        emit_json({"file": str(file), "rows": counts, "pairs_reindexed": reindexed})
    else:
        out.print(f"Imported {file}: " + ", ".join(f"{n} {t}" for t, n in counts.items()))


@app.command()
def doctor(repair: Annotated[bool, typer.Option("--repair", help="Fix what can be fixed.")] = False,
           as_json: JsonOpt = False) -> None:
    """Check that the store and the index agree; --repair fixes what it finds."""
    from coach.operations.doctor import run_doctor

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


# -- coordinator --------------------------------------------------------------------
def _as_of(value: str | None):
    from coach.domain.rules import parse_date

    return parse_date(value, "--as-of date") if value else None


@app.command()
def health(
    as_of: Annotated[str | None, typer.Option("--as-of", help="Date YYYY-MM-DD (default today).")] = None,
    pair: Annotated[int | None, typer.Option("--pair", help="Just this pair.")] = None,
    status: Annotated[str | None, typer.Option(help="Only healthy, at_risk or stalled.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
) -> None:
    """Pair health for coordinators: status, score, reasons and suggested actions, riskiest first."""
    from coach.health.signals import STATUSES

    if fmt not in ("table", "json", "csv"):
        raise InvalidInput(f"Unknown format {fmt!r}. Use table, json or csv.")
    if status and status not in STATUSES:
        raise InvalidInput(f"Unknown status {status!r}. Use one of: {', '.join(STATUSES)}.")
    c = initialised()
    results = c.monitor.health(_as_of(as_of), pair_id=pair, status=status)
    if fmt == "json":
        emit_json([h.to_dict() for h in results])
    elif fmt == "csv":  # the dashboard's CSV export, same columns and escaping
        from coach.health.csv_export import write_health_csv

        labels = c.store.pair_labels()
        write_health_csv(sys.stdout, ((h.to_dict(), labels.get(h.pair_id, {})) for h in results))
    else:
        table = Table("pair", "status", "score", "reasons", "suggested actions")
        colour = {"healthy": "green", "at_risk": "yellow", "stalled": "red"}
        for h in results:
            table.add_row(str(h.pair_id), f"[{colour[h.status]}]{h.status}[/]", str(h.score),
                          "\n".join(r["detail"] for r in h.reasons),
                          ", ".join(a["label"] for a in h.suggested_actions))
        out.print(table)


@app.command()
def overview(
    as_of: Annotated[str | None, typer.Option("--as-of", help="Date YYYY-MM-DD (default today).")] = None,
    weeks: Annotated[int, typer.Option(help="Weeks of history for the trend (1-52).")] = 8,
    as_json: JsonOpt = False,
) -> None:
    """Programme overview: counts by status, weekly trend and what changed since last week."""
    if not 1 <= weeks <= 52:
        raise InvalidInput("--weeks must be between 1 and 52.")
    data = initialised().monitor.overview(_as_of(as_of), weeks=weeks)
    if as_json:
        emit_json(data)
        return
    c = data["counts"]
    out.print(f"As of {data['as_of']}: [green]{c['healthy']} healthy[/], "
              f"[yellow]{c['at_risk']} at risk[/], [red]{c['stalled']} stalled[/].")
    table = Table("week of", "healthy", "at risk", "stalled", "sessions held")
    for snap, held in zip(data["snapshots"], data["sessions_held"], strict=True):
        table.add_row(snap["week_of"], str(snap["healthy"]), str(snap["at_risk"]),
                      str(snap["stalled"]), str(held["held"]))
    out.print(table)
    if data["changes_since_last_week"]:
        out.print("[bold]Changed since last week[/]")
        for ch in data["changes_since_last_week"]:
            out.print(f"  pair {ch['pair_id']}: {ch['from']} → {ch['to']}")


@app.command()
def timeline(pair_id: Annotated[int, typer.Argument()], as_json: JsonOpt = False) -> None:
    """A pair's sessions, reflections and action items as a coordinator sees them."""
    from coach.domain.access import PROGRAMME_VIEW

    c = initialised()
    events = c.monitor.timeline(c.store.get_pair(pair_id), PROGRAMME_VIEW)
    if as_json:
        emit_json(events)
        return
    for e in events:
        if e["type"] == "session":
            out.print(f"{e['date']}  session {e['status']} ({e['minutes']} min)")
        elif e["type"] == "reflection":
            if e.get("summary"):
                out.print(f"{e['date']}  {e['author_role']} reflection: {e['summary']['summary']}",
                          markup=False)
            else:
                shown = {"private": "a private", "pair": "a pair-only"}.get(e["visibility"], "a")
                out.print(f"{e['date']}  {e['author_role']} wrote {shown} reflection")
        else:
            out.print(f"{e['date']}  action ({e['owner']}): {e['text']}"
                      f"{' ✓' if e['done'] else ''}{' due ' + e['due'] if e['due'] else ''}", markup=False)


BENCH_PARTS = ("retrieval", "ingest", "generation", "features", "health", "dashboard", "reader", "cold-start")


@app.command()
def bench(
    backend: Annotated[list[str] | None, typer.Option(
        help="Backends to measure; repeat (default: none and embedded).")] = None,
    runs: Annotated[int, typer.Option(help="Runs per feature.")] = 20,
    only: Annotated[list[str] | None, typer.Option(
        help="Parts to run: " + ", ".join(BENCH_PARTS) + " (default: all).")] = None,
    retrieval_sizes: Annotated[list[int] | None, typer.Option(
        help="Collection sizes for the retrieval figures (default: 1000, 10000, 100000).")] = None,
    health_pairs: Annotated[int, typer.Option(
        help="Pairs in the synthetic programme for the health figure.")] = 10_000,
    dashboard_pairs: Annotated[list[int] | None, typer.Option(
        help="Synthetic programme sizes for the dashboard figure; 0 means the demo "
             "(default: 0 and 10000).")] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write {\"figures\": [...]} here.")] = None,
) -> None:
    """Measure the coach beside the raw engines under it (in scratch stores, never your data)."""
    from tools import bench as b

    if not 1 <= runs <= 1000:
        raise InvalidInput("--runs must be between 1 and 1000.")
    parts = only or list(BENCH_PARTS)
    unknown = set(parts) - set(BENCH_PARTS)
    if unknown:
        raise InvalidInput(f"Unknown bench part {sorted(unknown)[0]!r}. Use: {', '.join(BENCH_PARTS)}.")
    log = (lambda m: err.print(m)) if sys.stderr.isatty() else (lambda _m: None)
    figures = []
    if "retrieval" in parts:
        figures += b.bench_retrieval(container(), tuple(retrieval_sizes or (1_000, 10_000, 100_000)), log=log)
    if "ingest" in parts:
        figures += b.bench_ingest(container())
    if "generation" in parts:
        figures += b.bench_generation(container())
    if "features" in parts:
        figures += b.bench_features(container(), backend or ["none", "embedded"], runs, log=log)
    if "health" in parts:
        figures += b.bench_health(container(), health_pairs)
    if "dashboard" in parts:
        for size in dashboard_pairs or [0, 10_000]:
            figures += b.bench_dashboard(container(), size or None)
    if "reader" in parts:
        figures += b.bench_reader()
    if "cold-start" in parts:
        figures += b.bench_cold_start(container())
    data = {"figures": [f.to_dict() for f in figures]}
    if json_file:
        json_file.write_text(json.dumps(data, indent=2), encoding="utf-8")
    from rich.table import Column

    table = Table(Column("figure", overflow="fold"), "value", "unit", "baseline", "ratio", "target", "met")
    for f in data["figures"]:
        target = b.target_for(f)
        table.add_row(f["name"], f"{f['value']:.3f}", f["unit"],
                      "" if f["baseline"] is None else f"{f['baseline']:.3f}",
                      "" if f["ratio"] is None else f"{f['ratio']:.3f}",
                      target[0] if target else "", ("yes" if target[1] else "NO") if target else "")
    out.print(table)


# -- the reader ------------------------------------------------------------------------
def _score_reader(c, model) -> dict[str, dict[str, float]]:
    """The reflections suite, backend none, on dev and test, with ``model`` reading."""
    import tempfile

    from coach.reader.reader import Reader
    from evals.datasets import DEV_DATASET, TEST_DATASET, load_cases
    from evals.reflections import run_reflections

    out = {}
    with tempfile.TemporaryDirectory(prefix="coach-reader-") as tmp:
        scratch = c.scratch(Path(tmp))
        scratch.__dict__["reader"] = Reader(model, embed=c.reader.embed)
        for split, dataset in (("dev", DEV_DATASET), ("test", TEST_DATASET)):
            cases = load_cases(dataset, "reflections")
            out[split] = run_reflections(cases, scratch, dataset, backend="none")["metrics"]
        scratch.close()
    return out


@reader_app.command("encoder")
def reader_encoder(force: Annotated[bool, typer.Option(
        "--force", help="Build it even when the one there is up to date.")] = False) -> None:
    """Build the reader's MiniLM (fine-tuned on evals/datasets/train; about a minute), unless
    the one in coach/reader/encoder/ was made from the same data and settings."""
    from coach.reader.language import ENCODER
    from coach.reader.training import build_encoder

    built = build_encoder(force=force)
    out.print(f"{'Built' if built else 'Up to date:'} {ENCODER}")


@reader_app.command("train")
def reader_train(out_file: Annotated[Path | None, typer.Option(
        "--out", help="Where to write the model (default: the shipped coach/reader/model.json).")
        ] = None) -> None:
    """Train the shipped classifiers from evals/datasets/train, over the reader's MiniLM
    (built first when it is missing or stale)."""
    from coach.reader.model import PACKAGED
    from coach.reader.training import train_packaged

    model = train_packaged()
    model.save(out_file or PACKAGED)
    out.print(f"Wrote {out_file or PACKAGED}: thresholds {model.thresholds}")


@reader_app.command("retrain")
def reader_retrain(
    programme: Annotated[int | None, typer.Option(help="Only this programme's corrections.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fold authors' corrections into the classifiers, for this store only (opt-in). Prints
    dev and test before and after; refuses a model that is worse on test."""
    from coach.reader.training import RETRAIN_METRICS, retrain

    c = initialised()
    rows = c.store.reader_corrections(programme)
    if not rows:
        raise InvalidInput("There are no corrections yet: authors correct the action items, "
                           "blockers and sentiment on the reflect page before confirming.")
    result = retrain(c.reader.model, rows, lambda model: _score_reader(c, model))
    target = c.settings.data_dir / "reader-model.json"
    if result.accepted:
        result.model.save(target)
    report = {"corrections": len(rows), "accepted": result.accepted, "reason": result.reason,
              "before": result.before, "after": result.after,
              "model": str(target) if result.accepted else None}
    if as_json:
        emit_json(report)
    else:
        table = Table("metric", "dev before", "dev after", "test before", "test after")
        for metric in RETRAIN_METRICS:
            table.add_row(metric, *(f"{result.before[s].get(metric, 0):.3f}" if w == "before"
                                    else f"{result.after[s].get(metric, 0):.3f}"
                                    for s in ("dev", "test") for w in ("before", "after")))
        out.print(table)
        if result.accepted:
            out.print(f"Saved {target}; restart the coach to read with it.")
        else:
            out.print(f"Refused: {result.reason}. The current model stays.")
    if not result.accepted:
        raise typer.Exit(1)


# -- evaluation -------------------------------------------------------------------
@app.command("eval")
def eval_command(
    dataset: Annotated[Path | None, typer.Option(
        help="Dataset folder (default: evals/datasets/dev).")] = None,
    suite: Annotated[list[str] | None, typer.Option(
        help="retrieval, reflections, health, agendas, topics, chat, faithfulness; repeat.")] = None,
    backend: Annotated[list[str] | None, typer.Option(
        help="none, embedded or openai; repeat to compare.")] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write the JSON report here.")] = None,
    report: Annotated[Path | None, typer.Option(help="Write an HTML report here.")] = None,
    thresholds: Annotated[Path | None, typer.Option(help="TOML of minimum values per metric.")] = None,
    judge_url: Annotated[str | None, typer.Option(
        help="OpenAI-compatible URL for an optional LLM judge.")] = None,
    judge_model: Annotated[str | None, typer.Option(help="The judge's model name.")] = None,
    judge_repeats: Annotated[int, typer.Option(help="Judgements per case (the spread is reported).")] = 3,
) -> None:
    """Score the coach on a dataset, offline and deterministically; optionally with a judge."""
    from evals.report import write_report
    from evals.runner import check_thresholds, load_thresholds, run_eval

    limits = load_thresholds(thresholds) if thresholds else None
    judge = None
    if judge_url or judge_model:
        if not (judge_url and judge_model):
            raise InvalidInput("An LLM judge needs both --judge-url and --judge-model.")
        from coach.adapters.openai_chat import OpenAIChatModel
        from evals.judge import Judge

        judge = Judge(OpenAIChatModel(judge_url, judge_model, container().settings.openai_api_key,
                                      temperature=0.7), repeats=judge_repeats)
    result = run_eval(container(), dataset, suite or [], backend or [], judge=judge,
                      log=lambda m: err.print(m) if sys.stderr.isatty() else None)
    misses = check_thresholds(result, limits) if limits else []
    if json_file:
        json_file.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    if report:
        write_report(result, report, misses)
    backends = [r["backend"] for r in result["runs"]]
    suites = list(dict.fromkeys(s for r in result["runs"] for s in r["suites"]))
    for name in suites:
        first = next(r["suites"][name] for r in result["runs"] if name in r["suites"])
        table = Table(title=f"{name} · {len(first['cases'])} cases")
        table.add_column("metric")
        for b in backends:
            table.add_column(b, justify="right")
        for metric in first["metrics"]:
            row = []
            for r in result["runs"]:
                value = r["suites"].get(name, {}).get("metrics", {}).get(metric)
                row.append("—" if value is None else f"{value:.3f}")
            table.add_row(metric, *row)
        out.print(table)
    for r in result["runs"]:
        for rubric, j in (r.get("judge") or {}).items():
            out.print(f"judge {r['backend']} {rubric}: mean {j['mean']}, spread {j['spread']}, "
                      f"{j['repeats']} repeats, {j['unparsed']} unparsed")
    if misses:
        for miss in misses:
            err.print(f"threshold missed: {miss}", markup=False)
        raise typer.Exit(1)


# -- load test ----------------------------------------------------------------------
@app.command()
def loadtest(
    url: Annotated[str, typer.Option(help="The API's base URL, e.g. http://127.0.0.1:8000.")],
    tokens: Annotated[Path, typer.Option(help="JSON: a list of objects with a \"token\" (the "
                                         "output of `coach demo-signin --json`), or such objects "
                                         "one after another (`coach tokens create EMAIL --json` "
                                         "per person). Other keys are ignored: roles and pairs "
                                         "come from the API.")],
    users: Annotated[int, typer.Option(help="Simulated users; they share the tokens' identities.")] = 50,
    actions: Annotated[int, typer.Option(help="Actions per user.")] = 4,
    model_share: Annotated[float, typer.Option(help="Share of mentor and mentee actions that "
                                               "call the model (agendas, reflections).")] = 0.12,
    timeout: Annotated[float, typer.Option(help="Client timeout per request, seconds.")] = 900.0,
    seed: Annotated[int, typer.Option(help="Seed of the plan and the reflection texts.")] = 7,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write the figures here.")] = None,
) -> None:
    """A bounded concurrent load test over HTTP: coordinators read the dashboard, mentors prepare
    agendas, mentees submit reflections. Fails on any error or lost write."""
    from tools.loadtest import LoadTest, read_tokens

    if not 1 <= users <= 1000 or not 1 <= actions <= 1000:
        raise InvalidInput("--users and --actions must be between 1 and 1000.")
    try:
        test = LoadTest(url, read_tokens(tokens), users=users, actions=actions,
                        model_share=model_share, timeout_s=timeout, seed=seed,
                        log=lambda m: err.print(m, markup=False))
        result = test.run()
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    data = result.to_dict()
    if json_file:
        json_file.write_text(json.dumps(data, indent=2), encoding="utf-8")
    table = Table("action", "count", "errors", "p50 ms", "p95 ms", "max ms")
    for kind, k in data["by_kind"].items():
        table.add_row(kind, str(k["count"]), str(k["errors"]), f"{k['p50_ms']:.0f}",
                      f"{k['p95_ms']:.0f}", f"{k['max_ms']:.0f}")
    out.print(table)
    w = data["writes"]
    out.print(f"{data['requests']} requests in {data['wall_s']} s ({data['throughput_rps']} req/s), "
              f"{data['errors']} errors; reflections {w['reflections_acknowledged']} acknowledged, "
              f"{w['reflections_lost']} lost; agendas {w['agendas_acknowledged']} saved, "
              f"{w['agendas_lost']} lost.")
    for e in data["error_examples"]:
        err.print(f"error {e['kind']} {e['method']} {e['url']}: {e['error']}", markup=False)
    if not result.ok:
        raise typer.Exit(1)


# -- entry point ------------------------------------------------------------------
def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return an exit code; errors become one-line messages."""
    try:
        result = app(args=argv, standalone_mode=False, prog_name="coach")
        return result if isinstance(result, int) else 0
    except CoachError as exc:
        err.print(f"error: {exc.message}", markup=False, highlight=False, soft_wrap=True)
        return 1
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        err.print("aborted")
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
