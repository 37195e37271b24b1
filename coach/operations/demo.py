"""The demo programme: people, pairs and months of history, dated relative to today."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from coach.domain.errors import Conflict, InvalidInput
from coach.domain.records import reading_context
from coach.domain.vocabulary import SessionStatus
from coach.features.programme import IndexedWrites
from coach.store.credentials import TokenService
from coach.store.repository import Store

DEMO_FILE = "demo_programme.yaml"


@dataclass
class DemoReport:
    programme: str
    people: int = 0
    pairs: int = 0
    sessions: int = 0
    reflections: int = 0
    action_items: int = 0
    warnings: list[str] = field(default_factory=list)
    expected_health: dict[int, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"programme": self.programme, "people": self.people, "pairs": self.pairs,
                "sessions": self.sessions, "reflections": self.reflections,
                "action_items": self.action_items, "warnings": self.warnings}


def demo_data(path: Path | None = None) -> dict[str, Any]:
    if path is None:
        text = (resources.files("coach") / "demo_data" / DEMO_FILE).read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not {"programme", "people", "pairs"} <= data.keys():
        raise InvalidInput("The demo file needs programme, people and pairs sections.")
    return data


def summariser_for(store: Store, coach) -> Any:
    """A ``summarise`` callback: the coach's summary of each demo reflection, saved on it.
    The demo's action items are explicit, so the summary's action items are not re-recorded."""

    def summarise(pair_id: int, reflection) -> None:
        pair = store.get_pair(pair_id)
        result = coach.summariser.summarise(reflection.text, reflection.author_role,
                                            **reading_context(pair, reflection.session_id,
                                                              written=reflection.created_at.date()))
        store.set_reflection_summary(reflection.id, result.value, confirmed=True)

    return summarise


def load_demo(
    store: Store,
    writes: IndexedWrites,
    *,
    today: dt.date | None = None,
    data: dict[str, Any] | None = None,
    summarise=None,
) -> DemoReport:
    """Load the demo into an empty store. ``summarise(pair_id, reflection)`` may add summaries."""
    today = today or dt.date.today()
    data = data or demo_data()
    spec = data["programme"]

    def day(offset: int | None) -> dt.date | None:
        return None if offset is None else today + dt.timedelta(days=int(offset))

    if any(p.name == spec["name"] for p in store.list_programmes()):
        raise Conflict(f"The demo programme {spec['name']!r} is already loaded.")
    programme = store.create_programme(
        spec["name"],
        objectives=spec.get("objectives", ""),
        default_cadence_days=int(spec.get("default_cadence_days", 14)),
        default_session_minutes=int(spec.get("default_session_minutes", 45)),
        starts_on=day(spec.get("start_offset_days")),
        ends_on=day(spec.get("end_offset_days")),
    )
    report = DemoReport(programme.name)
    ids = _load_people(store, data["people"], report)
    for pair_spec in data["pairs"]:
        _load_pair(store, writes, pair_spec, ids, programme.id, report, day, today, summarise)
    return report


def _load_people(store: Store, people: list[dict[str, Any]], report: DemoReport) -> dict[str, int]:
    """Everyone, then who manages whom; the people's ids by their keys in the demo file."""
    ids: dict[str, int] = {}
    for person in people:
        created = store.add_person(person["name"], person["email"], person["role"],
                                   department=person.get("department", ""))
        ids[person["key"]] = created.id
        report.people += 1
    for person in people:
        if person.get("manager"):
            store.set_manager(ids[person["key"]], ids[person["manager"]])
    return ids


def _load_pair(store: Store, writes: IndexedWrites, spec: dict[str, Any], ids: dict[str, int],
               programme_id: int, report: DemoReport, day, today: dt.date, summarise) -> None:
    """One pair with its goals, its sessions in date order with their reflections (each
    summarised by ``summarise``, if given), and its action items; then its index entries."""
    created = writes.add_pair(
        ids[spec["mentor"]], ids[spec["mentee"]], spec["focus"],
        cadence_days=spec.get("cadence_days"),
        starts_on=day(spec.get("start_offset_days", -90)),
        programme_id=programme_id,
        status=spec.get("status", "active"),
    )
    pair_id = created.pair.id
    report.warnings += created.warnings
    report.pairs += 1
    if spec.get("expected_health"):
        report.expected_health[pair_id] = spec["expected_health"]
    for goal in spec.get("goals", []):
        store.add_goal(pair_id, goal["text"], goal.get("status", "open"))
    authors = {"mentor": ids[spec["mentor"]], "mentee": ids[spec["mentee"]]}
    for session_spec in sorted(spec.get("sessions", []), key=lambda s: s["offset_days"]):
        date = day(session_spec["offset_days"])
        session = store.log_session(pair_id, date, session_spec.get("status", SessionStatus.held),
                                    minutes=session_spec.get("minutes"), today=today)
        report.sessions += 1
        for reflection_spec in session_spec.get("reflections", []) or []:
            written = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(9, 0))
            reflection = store.add_reflection(
                pair_id, session.id, authors[reflection_spec["author"]], reflection_spec["text"],
                visibility=reflection_spec.get("visibility", "private"), created_at=written)
            report.reflections += 1
            if summarise is not None:
                summarise(pair_id, reflection)
    for item in spec.get("action_items", []):
        due = day(item.get("due_offset_days"))
        record = store.add_action_item(pair_id, item["text"], item.get("owner", "mentee"),
                                       due=due, origin="import")
        if item.get("done"):
            store.set_action_done(pair_id, record.id, True, today=min(due or today, today))
        report.action_items += 1
    writes.reindex(pair_id)


DEMO_SIGN_IN_ROLES = ("mentor", "mentee", "coordinator")


def demo_sign_ins(store: Store, tokens: TokenService) -> list[dict[str, Any]]:
    """One-time sign-in tokens for the first demo pair's mentor and mentee and a coordinator.
    The operator loaded the demo's history, so these may read it (like --reads-history)."""
    name = demo_data()["programme"]["name"]
    programme = next((p for p in store.list_programmes() if p.name == name), None)
    if programme is None:
        raise InvalidInput("The demo programme is not loaded. Run `coach init --demo` first.")
    pairs = [p for p in store.list_pairs(status="active") if p.programme_id == programme.id]
    coordinator = next(iter(store.list_people("coordinator")))
    people = zip(DEMO_SIGN_IN_ROLES, (pairs[0].mentor, pairs[0].mentee, coordinator))
    return [{"as": label, "name": p.name, "email": p.email,
             "token": tokens.issue_setup(p.id, issued_by=None, label="demo sign-in",
                                         reads_history=True).token} for label, p in people]
