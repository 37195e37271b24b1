"""Are two `coach eval --json` reports the same, apart from timings?

    python -m tools.eval_diff BEFORE.json AFTER.json

Compares every metric and every case's output, input and verdict, and prints what differs.
Timings (latency_ms.*, *_ms, *_s) are left out: they change from run to run. Exits 1 on any
difference, so a change meant to keep behaviour can show that it did.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

TIMING = re.compile(r"(^latency_ms\.|_ms$|_s$|^latency)")


def _without_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if not TIMING.search(str(k))}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def differences(before: dict, after: dict) -> list[str]:
    """Each difference as one line naming the backend, suite, metric or case."""
    out: list[str] = []
    runs_a = {r["backend"]: r for r in before.get("runs", [])}
    runs_b = {r["backend"]: r for r in after.get("runs", [])}
    for backend in sorted(runs_a.keys() | runs_b.keys()):
        if backend not in runs_a or backend not in runs_b:
            out.append(f"{backend}: only in {'after' if backend in runs_b else 'before'}")
            continue
        suites_a, suites_b = runs_a[backend]["suites"], runs_b[backend]["suites"]
        for suite in sorted(suites_a.keys() | suites_b.keys()):
            if suite not in suites_a or suite not in suites_b:
                out.append(f"{backend} {suite}: only in {'after' if suite in suites_b else 'before'}")
                continue
            a, b = _without_timings(suites_a[suite]), _without_timings(suites_b[suite])
            for metric in sorted(a["metrics"].keys() | b["metrics"].keys()):
                if a["metrics"].get(metric) != b["metrics"].get(metric):
                    out.append(f"{backend} {suite} {metric}: {a['metrics'].get(metric)} -> "
                               f"{b['metrics'].get(metric)}")
            cases_a = {c["id"]: c for c in a.get("cases", [])}
            cases_b = {c["id"]: c for c in b.get("cases", [])}
            for case in sorted(cases_a.keys() | cases_b.keys()):
                if cases_a.get(case) != cases_b.get(case):
                    out.append(f"{backend} {suite} case {case}: differs")
            for key in sorted((a.keys() | b.keys()) - {"metrics", "cases"}):
                if a.get(key) != b.get(key):
                    out.append(f"{backend} {suite} {key}: differs")
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    before, after = (json.loads(Path(p).read_text(encoding="utf-8")) for p in argv)
    found = differences(before, after)
    for line in found:
        print(line)
    runs = len(before.get("runs", []))
    print(f"{len(found)} differences" if found else f"identical apart from timings ({runs} runs)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
