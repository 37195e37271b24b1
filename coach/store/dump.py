"""A whole store as rows, table by table with their ids, and back into an empty store.

References survive because ids do. Token hashes travel (plain tokens were never stored).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Date, DateTime, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from coach.domain.errors import Conflict, InvalidInput
from coach.store.db import Database
from coach.store.models import (
    ActionItem,
    ApiToken,
    ChatMessage,
    CredentialEvent,
    Goal,
    HealthSnapshot,
    Pair,
    Person,
    Programme,
    Reflection,
    Session,
)

FORMAT = "reverse-mentoring-coach-export"
VERSION = 2  # 2: reflections carry visibility (1 had a private flag), credential events
# Parents before children, so foreign keys hold while importing.
TABLES = [Programme, Person, Pair, Goal, Session, Reflection, ActionItem, ChatMessage, ApiToken,
          CredentialEvent, HealthSnapshot]


def encode_value(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def export_store(db: Database) -> dict[str, Any]:
    data: dict[str, Any] = {"format": FORMAT, "version": VERSION,
                            "exported_at": dt.datetime.now(dt.UTC).isoformat(), "tables": {}}
    with db.engine.connect() as conn:
        for model in TABLES:
            table = model.__table__
            rows = conn.execute(select(table).order_by(table.c.id)).mappings().all()
            data["tables"][table.name] = [{k: encode_value(v) for k, v in row.items()} for row in rows]
    return data


def _decode(model, row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for column in model.__table__.columns:
        if column.name not in row:
            continue
        value = row[column.name]
        if value is not None and isinstance(column.type, DateTime):
            value = dt.datetime.fromisoformat(value)
        elif value is not None and isinstance(column.type, Date):
            value = dt.date.fromisoformat(value)
        out[column.name] = value
    return out


def import_store(db: Database, data: dict[str, Any]) -> dict[str, int]:
    """Load an export into an empty, migrated store, in one transaction."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InvalidInput("This file is not a coach export (its format field is missing or wrong).")
    if data.get("version") not in (1, VERSION):
        raise InvalidInput(f"Export version {data.get('version')} is not supported; expected {VERSION}.")
    tables = data.get("tables") or {}
    if data.get("version") == 1:  # a reflection that was not private was shared with the pair
        for row in tables.get("reflections", []):
            row.setdefault("visibility", "private" if row.pop("private", False) else "pair")
    counts = {}
    with db.engine.begin() as conn:
        existing = sum(conn.execute(select(func.count()).select_from(m.__table__)).scalar() or 0
                       for m in (Programme, Person, Pair))
        if existing:
            raise Conflict("The store is not empty. Import into a new data directory "
                           "(set COACH_DATA_DIR) so nothing is overwritten.")
        for model in TABLES:
            rows = tables.get(model.__table__.name, [])
            try:
                decoded = [_decode(model, r) for r in rows]
            except (TypeError, ValueError) as exc:
                raise InvalidInput(f"Bad value in table {model.__table__.name}: {exc}.") from None
            if decoded:
                try:
                    conn.execute(insert(model.__table__), decoded)
                except IntegrityError as exc:  # e.g. two open pairs of the same two people
                    raise InvalidInput(
                        f"The export's {model.__table__.name} break a rule of this store "
                        f"({str(exc.orig).splitlines()[0]}). Nothing was imported; fix the "
                        "file, or fix the source store and export again.") from None
            counts[model.__table__.name] = len(decoded)
        if conn.dialect.name == "postgresql":  # keep sequences past the imported ids
            for model in TABLES:
                name = model.__table__.name
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                  f"COALESCE((SELECT MAX(id) FROM {name}), 0) + 1, false)"))
    return counts
