"""The coordinator's view: pair health, suggested actions, overview and weekly trend.

Nothing here returns raw reflection text. Health reads records and labels only (a private
reflection is the fact that it exists); a pair's timeline is one of its views
(coach.domain.views), shaped by what coach.domain.access lets its viewer see.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from coach.domain.errors import NotFound
from coach.domain.records import ProgrammeRecord
from coach.health.signals import STATUSES, HealthThresholds, PairHealth, compute_health
from coach.ports import MetadataFilter, VectorIndex
from coach.retrieval.hybrid import body_of
from coach.store.db import Database
from coach.store.health_queries import data_fingerprint, held_sessions_by_day, load_health_inputs
from coach.store.repository import Store

log = logging.getLogger(__name__)
GUIDE_SOURCE = "knowledge/coordinator-guide.md"
ACTIONS = {
    "nudge": "Nudge",
    "help_reschedule": "Help reschedule",
    "check_the_match": "Check the match",
    "re_pair": "Re-pair",
    "close_well": "Close well",
}


class CoordinatorGuide:
    """The 'When to step in' guidance, read from the ingested coordinator guide."""

    def __init__(self, index: VectorIndex):
        self.index = index
        self._generation: str | None = None
        self._guidance: dict[str, str] = {}

    def guidance(self) -> dict[str, str]:
        generation = self.index.generation()
        if generation != self._generation:
            chunks = self.index.get(MetadataFilter.of(source=[GUIDE_SOURCE]))
            found: dict[str, str] = {}
            for chunk in chunks:
                heading = str(chunk.metadata.get("heading", ""))
                for key, title in ACTIONS.items():
                    if heading.endswith(f"> {title}") and chunk.metadata.get("role") != "question":
                        found[key] = re.sub(r"\s+", " ", body_of(chunk)).strip()
            self._guidance, self._generation = found, generation
        return self._guidance


CACHE_TTL_S = 60.0


class Monitor:
    def __init__(self, db: Database, store: Store, guide: CoordinatorGuide):
        from coach.store.snapshots import SnapshotStore

        self.db = db
        self.store = store
        self.guide = guide
        self.snapshots = SnapshotStore(db)
        self._cache: dict[tuple, tuple[float, Any]] = {}
        self._cache_lock = threading.Lock()
        self._refusals_logged: set[tuple[int, str, str]] = set()  # warn once per worker

    def _cached(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """Programme-wide results are kept while the data they read is unchanged: the key holds
        a fingerprint of those tables (one aggregate query, ~30 ms at 10k pairs, against ~1 s to
        recompute), so every worker sees every write. Changes the fingerprint cannot see (a
        session moved to another date) show within CACHE_TTL_S."""
        key = (*key, data_fingerprint(self.db))
        now = time.monotonic()
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < CACHE_TTL_S:
                return hit[1]
        value = compute()
        with self._cache_lock:
            self._cache = {k: v for k, v in self._cache.items() if now - v[0] < CACHE_TTL_S}
            while len(self._cache) >= 16:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = (now, value)
        return value

    def set_thresholds(self, programme_id: int, overrides: Mapping[str, object]) -> ProgrammeRecord:
        """Store a programme's health threshold overrides, each checked first (ThresholdRefused
        names one that fails, and nothing is stored); the keys given are all that is kept."""
        checked = HealthThresholds.from_overrides(dict(overrides))
        return self.store.update_programme_thresholds(
            programme_id, {key: getattr(checked, key) for key in overrides})

    def _thresholds(self, programme_id: int | None) -> dict[int, HealthThresholds]:
        out = {}
        for p in self.store.list_programmes():
            if programme_id is None or p.id == programme_id:
                out[p.id], refused = HealthThresholds.from_stored(p.health_thresholds)
                for name, reason in refused.items():
                    if (p.id, name, reason) not in self._refusals_logged:
                        self._refusals_logged.add((p.id, name, reason))
                        log.warning("Programme %s: stored health threshold %s is ignored: %s "
                                    "(`coach doctor --repair` drops it)", p.id, name, reason)
        return out

    def health(self, as_of: dt.date | None = None, *, pair_id: int | None = None,
               programme_id: int | None = None, status: str | None = None,
               cached: bool = True) -> list[PairHealth]:
        """Health of every active or paused pair, riskiest first. ``cached=False`` recomputes
        even when nothing changed (benchmarks)."""
        as_of = as_of or dt.date.today()
        if pair_id is not None:
            pair = self.store.get_pair(pair_id)
            programme_id = pair.programme_id
        if pair_id is None and cached:
            return list(self._cached(("health", as_of, programme_id, status),
                                     lambda: self._health_now(as_of, None, programme_id, status)))
        return self._health_now(as_of, pair_id, programme_id, status)

    def _health_now(self, as_of, pair_id, programme_id, status) -> list[PairHealth]:
        thresholds = self._thresholds(programme_id)
        # Hundreds of thousands of short-lived facts: pausing the cyclic GC saves ~25% at 10k pairs.
        gc_was_on = gc.isenabled()
        gc.disable()
        try:
            return self._health(as_of, pair_id, programme_id, status, thresholds)
        finally:
            if gc_was_on:
                gc.enable()

    def _health(self, as_of, pair_id, programme_id, status, thresholds) -> list[PairHealth]:
        default = HealthThresholds()
        inputs = load_health_inputs(self.db, programme_id=programme_id,
                                    pair_ids=[pair_id] if pair_id is not None else None)
        guidance = self.guide.guidance()
        results = []
        for item in inputs:
            if item.status == "closed" and pair_id is None:
                continue
            if item.starts_on > as_of:
                continue
            h = compute_health(item, as_of, thresholds.get(item.programme_id, default))
            h.suggested_actions = [
                {"action": a["action"], "label": ACTIONS[a["action"]],
                 "for_signals": a["for_signals"].split(","),
                 "guidance": guidance.get(a["action"], ""),
                 "source": GUIDE_SOURCE if a["action"] in guidance else ""}
                for a in h.suggested_actions]
            if status is None or h.status == status:
                results.append(h)
        order = {s: i for i, s in enumerate(reversed(STATUSES))}
        results.sort(key=lambda h: (order[h.status], -h.risk, h.pair_id))
        if pair_id is not None and not results:
            raise NotFound(f"Pair {pair_id} had not started on {as_of}.")
        return results

    def overview(self, as_of: dt.date | None = None, *, weeks: int = 8,
                 programme_id: int | None = None) -> dict[str, Any]:
        """Counts now, and at the end of each of the last ``weeks`` weeks (Sunday), with what
        changed since the end of last week. Past weeks are computed once and kept. The result
        is shared between callers: read it, don't change it."""
        as_of = as_of or dt.date.today()
        return self._cached(("overview", as_of, weeks, programme_id),
                            lambda: self._overview(as_of, weeks, programme_id))

    def _overview(self, as_of: dt.date, weeks: int, programme_id: int | None) -> dict[str, Any]:
        now = self.health(as_of, programme_id=programme_id)
        last_sunday = as_of - dt.timedelta(days=(as_of.weekday() + 1) % 7 or 7)
        week_ends = [last_sunday - dt.timedelta(days=7 * w) for w in range(weeks - 1, -1, -1)]
        key = programme_id or 0
        stored = self.snapshots.get(key, week_ends)
        for day in week_ends:
            if day not in stored:
                past = self.health(day, programme_id=programme_id)
                counts = {s: sum(1 for h in past if h.status == s) for s in STATUSES}
                statuses = {str(h.pair_id): h.status for h in past}
                self.snapshots.put(key, day, counts, statuses)
                stored[day] = {"counts": counts, "statuses": statuses}
        snapshots = [{"week_of": day.isoformat(), **stored[day]["counts"]} for day in week_ends]
        counts_now = {s: sum(1 for h in now if h.status == s) for s in STATUSES}
        snapshots.append({"week_of": as_of.isoformat(), **counts_now})
        previous = stored[week_ends[-1]]["statuses"] if week_ends else {}
        changes = [{"pair_id": h.pair_id, "from": previous.get(str(h.pair_id), "new"),
                    "to": h.status}
                   for h in now if previous.get(str(h.pair_id)) != h.status]
        return {
            "as_of": as_of.isoformat(),
            "counts": counts_now,
            "pairs": [h.to_dict() for h in now],
            "snapshots": snapshots,
            "sessions_held": self.sessions_held_per_week(as_of, [*week_ends, as_of], programme_id),
            "changes_since_last_week": changes,
        }

    def sessions_held_per_week(self, as_of: dt.date, week_ends: list[dt.date],
                               programme_id: int | None) -> list[dict[str, Any]]:
        start = week_ends[0] - dt.timedelta(days=6)
        by_day = held_sessions_by_day(self.db, start, as_of, programme_id)
        out, begin = [], start
        for end in week_ends:
            out.append({"week_of": end.isoformat(),
                        "held": sum(n for d, n in by_day.items() if begin <= d <= end)})
            begin = end + dt.timedelta(days=1)
        return out
