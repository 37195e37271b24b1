"""`coach export` / `coach import`: a whole programme store as one JSON document.

Rows are copied table by table with their ids, so references survive. Token hashes travel
(plain tokens were never stored). The vector index is rebuilt on import from the knowledge
folder and the pair records, so a backup never depends on Chroma's files.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy import Date, DateTime, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from coach.errors import Conflict, InvalidInput
from coach.records import PersonRecord
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


def _encode(value: Any) -> Any:
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
            data["tables"][table.name] = [{k: _encode(v) for k, v in row.items()} for row in rows]
    return data


def write_export(db: Database, path: Path) -> dict[str, int]:
    data = export_store(db)
    _write_json(data, path)
    return {name: len(rows) for name, rows in data["tables"].items()}


def write_person_export(store, tokens, person: PersonRecord, path: Path) -> None:
    _write_json(export_person(store, tokens, person), path)


def _write_json(data: dict[str, Any], path: Path) -> None:
    tmp = Path(path).with_suffix(Path(path).suffix + ".part")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(path)  # never a half-written file under the real name


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


def read_export(path: Path) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"No file at {path}.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{path} is not a JSON export ({exc.__class__.__name__}).") from None


PERSON_FORMAT = "reverse-mentoring-coach-person-export"


def export_person(store, tokens, person: PersonRecord) -> dict[str, Any]:
    """Everything the coach holds about one person, as they may read it: their record, their
    pairs (with the records both members share), what they wrote, their chat and what happened
    to their credentials. ``person`` is a Principal when the person asks through the API: a
    credential someone else issued leaves out the private records from before it was issued."""
    from coach.services.access import reflection_view, visible_action_items

    who = store.get_person(person.id)
    pairs = []
    for pair_id in store.pairs_of(who.id):
        pair = store.get_pair(pair_id)
        role = "mentor" if pair.mentor.id == who.id else "mentee"
        partner = pair.mentee if role == "mentor" else pair.mentor
        pairs.append({
            "id": pair.id, "your_role": role, "partner": partner.name,
            "focus": list(pair.focus), "status": pair.status,
            "starts_on": pair.starts_on.isoformat(),
            "ends_on": pair.ends_on.isoformat() if pair.ends_on else None,
            "goals": [g.to_dict() for g in pair.goals],
            "sessions": [{"id": s.id, "date": s.date.isoformat(), "status": s.status,
                          "minutes": s.minutes, "agenda": s.agenda} for s in pair.sessions],
            "your_reflections": [reflection_view(person, pair, r) for r in pair.reflections
                                 if r.author_id == who.id],
            "action_items": [a.to_dict() for a in visible_action_items(person, pair)],
            "your_chat": store.chat_history(pair.id, who.id, limit=100_000,
                                            since=getattr(person, "private_from", None)),
        })
    return {"format": PERSON_FORMAT, "exported_at": dt.datetime.now(dt.UTC).isoformat(),
            "person": who.to_dict(), "pairs": pairs,
            "credentials": jsonable(tokens.credentials(who.id))}


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return _encode(value)
