"""`coach doctor [--repair]`: do the store and the index agree?

Checks: the database's own integrity; every ingested file's chunks are all in the index, once;
no chunk belongs to a file the manifest does not know or a pair that no longer exists; no file
is still known by its server path (manifests written before files had names); every pair's
records are indexed as they are now; every reflection has its summary; every programme's
stored health thresholds pass today's rules (health ignores those that do not). Repair
re-ingests, renames, deletes orphans, re-indexes pairs, re-summarises and drops refused
thresholds, all idempotently.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coach.domain.records import reading_context
from coach.domain.sources import is_pair_scope, pair_id_of, pair_scope
from coach.health.signals import HealthThresholds
from coach.ingest.ingest import is_server_path
from coach.ports import MetadataFilter
from coach.retrieval.pair_index import pair_chunks


@dataclass
class Finding:
    check: str
    detail: str
    repaired: bool = False


@dataclass
class DoctorReport:
    findings: list[Finding] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(f.repaired for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked,
                "findings": [f.__dict__ for f in self.findings]}


def run_doctor(container, *, repair: bool = False) -> DoctorReport:
    report = DoctorReport()
    db, index, manifest = container.db, container.index, container.manifest

    # 1. the database itself
    report.findings += [Finding("database", problem) for problem in db.integrity_problems()]

    # 2. files: manifest against index
    chunks = index.get(include_text=False)
    report.checked["chunks"] = len(chunks)
    ids = Counter(c.id for c in chunks)
    duplicates = [cid for cid, n in ids.items() if n > 1]
    if duplicates:
        report.findings.append(Finding("index", f"{len(duplicates)} duplicate chunk ids"))
    by_source = Counter(c.metadata.get("source") for c in chunks if c.metadata.get("scope") == "global")
    known = manifest.all()
    report.checked["documents"] = len(known)
    stale = [s for s, d in known.items() if by_source.get(s, 0) != d.chunk_count]
    orphans = [s for s in by_source if s not in known]
    gone = [s for s, d in known.items() if d.path and not Path(d.path).exists()]
    for source in stale:
        report.findings.append(Finding("index", f"{source}: index has {by_source.get(source, 0)} "
                                       f"chunks, manifest says {known[source].chunk_count}"))
    for source in orphans:
        report.findings.append(Finding("index", f"{source}: {by_source[source]} chunks with no "
                                       "manifest entry (an interrupted ingest)"))
    for source in gone:
        report.findings.append(Finding("files", f"{source}: the file is gone"))
    names = container.source_names
    renamed = [s for s, d in known.items() if is_server_path(s) and s not in stale
               and d.path and Path(d.path).exists()]
    for source in renamed:
        report.findings.append(Finding("files", f"{names.display(source)}: known by its server "
                                       "path (an older manifest); repair renames it"))

    # 3. pairs: indexed as they are now, and no chunks for deleted pairs
    pairs = {p.id: p for p in container.store.all_pair_records()}
    report.checked["pairs"] = len(pairs)
    scopes = Counter(c.metadata.get("scope") for c in chunks
                     if is_pair_scope(c.metadata.get("scope", "")))
    dead = [s for s in scopes if pair_id_of(s) not in pairs]
    out_of_step = []
    for pid, pair in pairs.items():
        wanted = {c.id for c in pair_chunks(pair)}
        have = {c.id for c in index.get(MetadataFilter.of(scope=[pair_scope(pid)]), include_text=False)}
        if wanted != have:
            out_of_step.append(pid)
    for scope in dead:
        report.findings.append(Finding("pairs", f"{scopes[scope]} chunks of deleted {scope}"))
    for pid in out_of_step:
        report.findings.append(Finding("pairs", f"pair {pid}'s index is out of step with its records"))

    # 4. reflections without a summary (e.g. a crash between saving and summarising)
    missing = [(p.id, r) for p in pairs.values() for r in p.reflections if not r.summary]
    report.checked["reflections"] = sum(len(p.reflections) for p in pairs.values())
    for pid, r in missing:
        report.findings.append(Finding("reflections", f"reflection {r.id} of pair {pid} has no summary"))

    # 5. stored health thresholds that today's rules refuse (saved before them, or by hand)
    programmes = container.store.list_programmes()
    report.checked["programmes"] = len(programmes)
    thresholds_to_keep: dict[int, dict[str, Any]] = {}
    for programme in programmes:
        checked, refused = HealthThresholds.from_stored(programme.health_thresholds)
        if not refused:
            continue
        thresholds_to_keep[programme.id] = {
            k: getattr(checked, k) for k in programme.health_thresholds if k not in refused}
        by_reason: dict[str, list[str]] = {}
        for name, reason in refused.items():
            by_reason.setdefault(reason, []).append(name)
        for reason, names in by_reason.items():
            report.findings.append(Finding("thresholds", f"programme {programme.id}: {reason} "
                                           f"Health ignores {', '.join(names)} until it is reset."))

    if repair:
        for programme_id, kept in thresholds_to_keep.items():
            container.monitor.set_thresholds(programme_id, kept)
        _repair(container, report, stale + orphans, gone, renamed, dead, out_of_step, missing,
                duplicates)
    return report


def _repair(container, report, resync, gone, renamed, dead, out_of_step, missing,
            duplicates) -> None:
    index, ingestor, names = container.index, container.ingestor, container.source_names
    known = container.manifest.all()
    for source in resync:
        entry = known.get(source)
        index.delete(where=MetadataFilter.of(source=[source]))
        container.manifest.remove([source])
        if entry and entry.path and Path(entry.path).exists():
            ingestor.ingest_file(Path(entry.path), names.display(source))
    for source in renamed:  # indexed under the name first, then the old entry goes
        ingestor.ingest_file(Path(known[source].path), names.display(source))
    if gone:
        ingestor.prune()
    for scope in dead:
        index.delete(where=MetadataFilter.of(scope=[scope]))
    for pid in out_of_step:
        container.writes.reindex(pid)
    if duplicates:
        index.delete(ids=duplicates)
        for pid in {pair_id_of(c) for c in duplicates if is_pair_scope(c)}:
            container.writes.reindex(pid)
    coach = container.features("none")
    for pid, r in missing:
        pair = container.store.get_pair(pid)
        summary = coach.summariser.summarise(r.text, r.author_role,
                                             **reading_context(pair, r.session_id,
                                                               written=r.created_at.date())).value
        container.store.set_reflection_summary(r.id, summary)
        container.writes.reindex(pid)
    for finding in report.findings:
        if finding.check != "database":
            finding.repaired = True
