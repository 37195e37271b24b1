"""The `coach` command: thin commands over the library, one module per audience. Every data
command takes --json; errors are one line, with the fix."""

from __future__ import annotations

import sys

import click
import typer

from coach.cli import admins, coordinators, developers, mentoring, operators
from coach.cli.common import err, set_container
from coach.domain.errors import CoachError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Reverse-mentoring session coach.")
for audience in (operators, admins, coordinators, mentoring, developers):
    app.add_typer(audience.app)


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


__all__ = ["app", "main", "run", "set_container"]
