"""`coach export` / `coach import`: a whole programme store as one JSON document (its rows, from
coach.store.dump), and the export of everything held about one person, as they may read it.

The vector index is rebuilt on import from the knowledge folder and the pair records, so a
backup never depends on Chroma's files.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from coach.domain.errors import InvalidInput
from coach.domain.records import PersonRecord
from coach.store.db import Database
from coach.store.dump import encode_value, export_store


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
    from coach.domain.access import member_role, reflection_view, visible_action_items

    who = store.get_person(person.id)
    pairs = []
    for pair_id in store.pairs_of(who.id):
        pair = store.get_pair(pair_id)
        role = member_role(who, pair)
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
    return encode_value(value)
