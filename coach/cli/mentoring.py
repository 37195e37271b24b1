"""Commands for a pair: the mentor's agenda, topics and chat, and the mentee's reflections."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from coach.cli.common import BackendOpt, JsonOpt, emit_json, initialised, out, provenance_line
from coach.domain.errors import InvalidInput

app = typer.Typer()

PairArg = Annotated[int, typer.Argument(help="The pair.")]


@app.command()
def agenda(
    pair_id: PairArg,
    minutes: Annotated[int | None, typer.Option(
        help="Session length, 15 to 120 (default: the programme's).")] = None,
    save: Annotated[bool, typer.Option(help="Save the agenda on the next session.")] = True,
    lead: Annotated[str | None, typer.Option(help="Lead with one of the alternatives an agenda "
                                             "lists: a topic id, or 'goal'.")] = None,
    backend: BackendOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A timed agenda for the pair's next session."""
    container = initialised()
    result = container.features(backend).agenda(pair_id, minutes, save=save, lead=lead)
    if as_json:
        emit_json(result)
        return
    from rich.markdown import Markdown  # here: the other commands need neither

    from coach.features.agenda import agenda_markdown
    from coach.features.results import Agenda

    out.print(Markdown(agenda_markdown(Agenda.model_validate(result),
                                       container.store.get_pair(pair_id))))


@app.command()
def topics(
    pair_id: PairArg,
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
    out.print(f"[dim]{provenance_line(result['provenance'])}[/]")


def read_text_argument(file: str) -> str:
    """A text file's contents, or stdin for ``-``, with a one-line error for anything else."""
    if file == "-":
        return sys.stdin.read()
    path = Path(file)
    if not path.is_file():
        raise InvalidInput(f"No such file: {file}. Pass a text file, or - to read stdin.")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{file} is not UTF-8 text. Save it as UTF-8.") from None


@app.command()
def reflect(
    pair_id: PairArg,
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
    container = initialised()
    text = read_text_argument(file)
    pair = container.store.get_pair(pair_id)
    result = container.features(backend).reflect(pair_id, session, author or pair.mentee.id, text,
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
    out.print(f"[dim]{provenance_line(result['provenance'])}[/]")


@app.command()
def chat(
    pair_id: PairArg,
    as_person: Annotated[str | None, typer.Option(
        "--as", help="Your id or email (default: the mentor).")] = None,
    message: Annotated[str | None, typer.Option("--message", "-m", help="Ask one question and exit.")] = None,
    backend: BackendOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask the coach about your pair; answers cite the guidelines. Empty line or Ctrl-D ends."""
    container = initialised()
    pair = container.store.get_pair(pair_id)
    person = as_person or str(pair.mentor.id)
    features = container.features(backend)
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
        for event in features.chat(pair_id, person, question):
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
            out.print(f"[dim]{provenance_line(done['provenance'])}[/]")
        if not interactive:
            break
