"""Commands for admins: the people in the programme and their sign-in credentials."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from coach.cli.common import JsonOpt, emit_json, initialised, out
from coach.operations.backup import jsonable
from coach.operations.demo import demo_sign_ins

app = typer.Typer()
users = typer.Typer(no_args_is_help=True, help="People in the programme.")
tokens = typer.Typer(no_args_is_help=True, help="Access tokens and sign-in sessions.")
app.add_typer(users, name="users")
app.add_typer(tokens, name="tokens")

PersonArg = Annotated[str, typer.Argument(help="The person's id or email.")]


@users.command("add")
def users_add(
    name: Annotated[str, typer.Argument()],
    email: Annotated[str, typer.Option(help="Unique email address.")],
    role: Annotated[str, typer.Option(help="mentor, mentee, coordinator or admin.")],
    department: Annotated[str, typer.Option()] = "",
    manager: Annotated[str | None, typer.Option(help="The manager's id or email.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a person, with a one-time sign-in token for them."""
    container = initialised()
    person = container.store.add_person(name, email, role, department=department, manager=manager)
    issued = container.tokens.issue_setup(person.id, issued_by=None, label="first sign-in")
    if as_json:
        emit_json({"id": person.id, "token": issued.token, "token_kind": issued.kind,
                   "expires_at": issued.expires_at.isoformat()})
    else:
        out.print(f"Added {person.name} <{person.email}> as {person.role} (id {person.id}).")
        out.print(f"One-time sign-in token (shown once, stored hashed; works once, until "
                  f"{issued.expires_at:%Y-%m-%d}): {issued.token}", markup=False)


@users.command("delete")
def users_delete(user: PersonArg) -> None:
    """Delete a person who is in no pair, with their credentials."""
    person = initialised().writes.delete_person(user)
    out.print(f"Deleted {person.name} (id {person.id}).")


@users.command("anonymise")
def users_anonymise(user: PersonArg) -> None:
    """Remove who a person is and everything they wrote (reflections, what was found in them,
    chat, credentials); their pairs keep their dates and shared records."""
    person = initialised().writes.anonymise_person(user)
    out.print(f"Anonymised person {person.id}: now {person.name}.")


@users.command("list")
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


@tokens.command("create")
def tokens_create(
    user: PersonArg,
    label: Annotated[str, typer.Option(help="A note to recognise the token by.")] = "cli",
    reads_history: Annotated[bool, typer.Option(
        "--reads-history", help="Let it read what the person wrote before now. For an "
        "operator who has checked who the person is (the operator can read the database "
        "anyway); without it, the token reads only what is written from now on.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Issue a one-time sign-in token for a person (shown once, stored hashed, recorded and
    shown to them)."""
    container = initialised()
    person = container.store.get_person(user)
    issued = container.tokens.issue_setup(person.id, issued_by=None, label=label,
                                  reads_history=reads_history)
    if as_json:
        emit_json({"id": person.id, "email": person.email, "token": issued.token,
                   "token_kind": issued.kind, "expires_at": issued.expires_at.isoformat()})
    else:
        out.print(f"One-time sign-in token for {person.name}: {issued.token}", markup=False)


@tokens.command("list")
def tokens_list(user: PersonArg, as_json: JsonOpt = False) -> None:
    """A person's tokens, signed-in sessions and credential events (no secrets)."""
    container = initialised()
    creds = container.tokens.credentials(container.store.get_person(user).id)
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


@tokens.command("revoke")
def tokens_revoke(user: PersonArg) -> None:
    """Revoke every token a person has and end their signed-in sessions."""
    container = initialised()
    person = container.store.get_person(user)
    count = container.tokens.revoke_all(person.id)
    out.print(f"Revoked {count} token(s) of {person.name} and ended their sessions.")


@app.command("demo-signin")
def demo_signin(as_json: JsonOpt = False) -> None:
    """Issue one-time sign-in tokens for the demo mentor, mentee and coordinator."""
    container = initialised()
    rows = demo_sign_ins(container.store, container.tokens)
    if as_json:
        emit_json(rows)
        return
    lines = ["Sign in at http://127.0.0.1:8000/login with one of these (each works once; "
             "run `coach demo-signin` again for more):"]
    lines += [f"  {r['as']:<12} {r['name']:<20} {r['email']}\n{'':<15}token {r['token']}"
              for r in rows]
    sys.stdout.write("\n".join(lines) + "\n")
