"""Commands for coordinators: pairs and their sessions, the programme's thresholds, and pair
health, the overview and a pair's timeline (labels and what authors shared, never what they
wrote privately)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from coach.cli.common import AsOfOpt, JsonOpt, emit_json, err, initialised, out
from coach.domain.access import PROGRAMME_VIEW
from coach.domain.errors import InvalidInput
from coach.domain.rules import parse_date
from coach.domain.views import pair_detail, pair_row, timeline
from coach.health.csv_export import write_health_csv
from coach.health.signals import STATUSES, HealthThresholds

app = typer.Typer()
pairs = typer.Typer(no_args_is_help=True, help="Mentoring pairs.")
sessions = typer.Typer(no_args_is_help=True, help="A pair's sessions.")
programme = typer.Typer(no_args_is_help=True, help="The programme and its health thresholds.")
app.add_typer(pairs, name="pairs")
app.add_typer(sessions, name="sessions")
app.add_typer(programme, name="programme")

PairArg = Annotated[int, typer.Argument()]
FORMATS = ("table", "json", "csv")


# -- pairs --------------------------------------------------------------------------------
@pairs.command("list")
def pairs_list(status: Annotated[str | None, typer.Option()] = None, as_json: JsonOpt = False) -> None:
    """List pairs."""
    rows = [pair_row(p) for p in initialised().store.list_pairs(status=status)]
    if as_json:
        emit_json(rows)
        return
    table = Table("id", "mentor", "mentee", "focus", "cadence", "status", "sessions held", "last held")
    for r in rows:
        table.add_row(str(r["id"]), r["mentor"], r["mentee"], ", ".join(r["focus"]),
                      f"{r['cadence_days']} d", r["status"], str(r["sessions_held"]),
                      r["last_held"] or "-")
    out.print(table)


@pairs.command("show")
def pairs_show(pair_id: PairArg, as_json: JsonOpt = False) -> None:
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


@pairs.command("add")
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
    created = initialised().writes.add_pair(mentor, mentee, focus, goals=goal or [],
                                               cadence_days=cadence, starts_on=starts, ends_on=ends)
    if as_json:
        emit_json({"id": created.pair.id, "warnings": created.warnings})
        return
    for w in created.warnings:
        err.print(f"warning: {w}")
    out.print(f"Created pair {created.pair.id}: {created.pair.label}.")


@pairs.command("status")
def pairs_status(
    pair_id: PairArg,
    status: Annotated[str, typer.Argument(help="active, paused or closed.")],
    as_json: JsonOpt = False,
) -> None:
    """Pause, resume or close a pair."""
    p = initialised().store.set_pair_status(pair_id, status)
    if as_json:
        emit_json({"id": p.id, "status": p.status})
        return
    out.print(f"Pair {p.id} ({p.label}) is now {p.status}.")


@pairs.command("delete")
def pairs_delete(pair_id: PairArg,
                 yes: Annotated[bool, typer.Option("--yes", help="Confirm: this cannot be undone.")
                                ] = False) -> None:
    """Delete a pair with its goals, sessions, reflections, action items, chat and index entries."""
    container = initialised()
    pair = container.store.get_pair(pair_id)
    if not yes:
        raise InvalidInput(f"Deleting pair {pair_id} ({pair.label}) removes everything its "
                           "members wrote. Add --yes to confirm.")
    container.writes.delete_pair(pair_id)
    out.print(f"Deleted pair {pair_id} ({pair.label}).")


# -- sessions -------------------------------------------------------------------------------
@sessions.command("log")
def sessions_log(
    pair_id: PairArg,
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


@sessions.command("list")
def sessions_list(pair_id: PairArg, as_json: JsonOpt = False) -> None:
    """List a pair's sessions."""
    rows = pair_detail(initialised().store.get_pair(pair_id))["sessions"]
    if as_json:
        emit_json(rows)
        return
    table = Table("id", "date", "status", "minutes", "reflections", "agenda")
    for s in rows:
        table.add_row(str(s["id"]), s["date"], s["status"], str(s["minutes"]),
                      str(len(s["reflections"])), "yes" if s["has_agenda"] else "")
    out.print(table)


# -- the programme ----------------------------------------------------------------------------
@programme.command("show")
def programme_show(as_json: JsonOpt = False) -> None:
    """The programme, with its health thresholds (defaults merged with overrides)."""
    programmes = []
    for p in initialised().store.list_programmes():
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


@programme.command("thresholds")
def programme_thresholds(
    settings_: Annotated[list[str], typer.Argument(
        metavar="KEY=VALUE", help="Thresholds to set; KEY= resets one.")],
    programme_id: Annotated[int | None, typer.Option(
        "--programme", help="Programme id (default: the first).")] = None,
) -> None:
    """Override health thresholds for a programme, e.g. `gap_warn_ratio=2 missed_stalled=4`."""
    container = initialised()
    current = container.store.get_programme(programme_id)
    overrides = dict(current.health_thresholds)
    for item in settings_:
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidInput(f"{item!r} is not KEY=VALUE.")
        if value == "":
            overrides.pop(key.strip(), None)
        else:
            overrides[key.strip()] = value.strip()
    updated = container.monitor.set_thresholds(current.id, overrides)
    out.print(f"Health thresholds for {current.name}: {updated.health_thresholds or 'defaults'}")


# -- health -----------------------------------------------------------------------------------
def as_of_date(value: str | None):
    return parse_date(value, "--as-of date") if value else None


@app.command()
def health(
    as_of: AsOfOpt = None,
    pair: Annotated[int | None, typer.Option("--pair", help="Just this pair.")] = None,
    status: Annotated[str | None, typer.Option(help="Only healthy, at_risk or stalled.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
) -> None:
    """Pair health for coordinators: status, score, reasons and suggested actions, riskiest first."""
    if fmt not in FORMATS:
        raise InvalidInput(f"Unknown format {fmt!r}. Use table, json or csv.")
    if status and status not in STATUSES:
        raise InvalidInput(f"Unknown status {status!r}. Use one of: {', '.join(STATUSES)}.")
    container = initialised()
    results = container.monitor.health(as_of_date(as_of), pair_id=pair, status=status)
    if fmt == "json":
        emit_json([h.to_dict() for h in results])
    elif fmt == "csv":  # the dashboard's CSV export, same columns and escaping
        labels = container.store.pair_labels()
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
    as_of: AsOfOpt = None,
    weeks: Annotated[int, typer.Option(help="Weeks of history for the trend (1-52).")] = 8,
    as_json: JsonOpt = False,
) -> None:
    """Programme overview: counts by status, weekly trend and what changed since last week."""
    if not 1 <= weeks <= 52:
        raise InvalidInput("--weeks must be between 1 and 52.")
    data = initialised().monitor.overview(as_of_date(as_of), weeks=weeks)
    if as_json:
        emit_json(data)
        return
    counts = data["counts"]
    out.print(f"As of {data['as_of']}: [green]{counts['healthy']} healthy[/], "
              f"[yellow]{counts['at_risk']} at risk[/], [red]{counts['stalled']} stalled[/].")
    table = Table("week of", "healthy", "at risk", "stalled", "sessions held")
    for snap, held in zip(data["snapshots"], data["sessions_held"], strict=True):
        table.add_row(snap["week_of"], str(snap["healthy"]), str(snap["at_risk"]),
                      str(snap["stalled"]), str(held["held"]))
    out.print(table)
    if data["changes_since_last_week"]:
        out.print("[bold]Changed since last week[/]")
        for ch in data["changes_since_last_week"]:
            out.print(f"  pair {ch['pair_id']}: {ch['from']} → {ch['to']}")


@app.command("timeline")
def timeline_command(pair_id: PairArg, as_json: JsonOpt = False) -> None:
    """A pair's sessions, reflections and action items as a coordinator sees them."""
    events = timeline(initialised().store.get_pair(pair_id), PROGRAMME_VIEW)
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
