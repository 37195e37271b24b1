"""CSV that is safe to open in a spreadsheet, and the pair-health table every export shares.

A cell that starts with = + - @, a tab or a carriage return is read by Excel, LibreOffice and
Google Sheets as a formula, so a person named `=HYPERLINK("http://evil.example","x")` would
become a live link in the coordinator's spreadsheet (OWASP: CSV injection). Such cells get a
leading single quote, which spreadsheets show as text and do not display.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

HEALTH_COLUMNS = ["pair_id", "mentor", "mentee", "focus", "status", "score", "reasons",
                  "suggested_actions"]


def spreadsheet_safe(value: Any) -> Any:
    """The cell as a spreadsheet will show it as text. Numbers pass unchanged: the coach
    writes them itself, and a negative number is not a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(out: TextIO, header: Iterable[str], rows: Iterable[Iterable[Any]]) -> None:
    """Every CSV the coach writes goes through here, so no cell reaches a spreadsheet unescaped."""
    writer = csv.writer(out)
    writer.writerow([spreadsheet_safe(cell) for cell in header])
    for row in rows:
        writer.writerow([spreadsheet_safe(cell) for cell in row])


def write_health_csv(out: TextIO,
                     rows: Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> None:
    """The pair-health table, for the dashboard's export and `coach health --format csv`:
    ``rows`` pairs each PairHealth.to_dict() with the pair's Store.pair_labels() entry."""
    write_csv(out, HEALTH_COLUMNS, (health_row(health, label) for health, label in rows))


def health_row(health: Mapping[str, Any], label: Mapping[str, Any]) -> list[Any]:
    """One pair's row under HEALTH_COLUMNS: ``health`` is PairHealth.to_dict() with action
    labels, ``label`` the pair's entry in Store.pair_labels()."""
    return [health["pair_id"], label.get("mentor", ""), label.get("mentee", ""),
            " ".join(label.get("focus", [])), health["status"], health["score"],
            "; ".join(r["detail"] for r in health["reasons"]),
            "; ".join(a["label"] for a in health["suggested_actions"])]
