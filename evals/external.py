"""Text from outside the project, scored as datasets of their own.

AMI Meeting Corpus participant reports (CC BY 4.0, University of Edinburgh; Carletta et al.
2005, "The AMI Meeting Corpus"), manual annotations release 1.6.2, read where they lie in
../shared/datasets/ami-reports. After each meeting every participant wrote a short report:
an abstract, decisions, actions and problems, in their own words. Each report becomes one
"reflection" (its parts in that order), with its actions as the gold action items and its
problems as the gold blockers. Only meetings ES2006-ES2009 are scored; the reader's training
may use ES2002-ES2005 (coach/reader/training.py), so no meeting is in both. The other AMI
meetings are reserved for independent scoring and never read here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

REPORTS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ami-reports" / \
    "participant_reports.jsonl"
SCORED_MEETINGS = ("ES2006", "ES2007", "ES2008", "ES2009")
ATTRIBUTION = ("AMI Meeting Corpus (University of Edinburgh; Carletta et al. 2005), CC BY 4.0: "
               "participant reports of meetings ES2006-ES2009")
_DEBRIS = re.compile(r"^\s*(?:[A-Za-z]\.\.|[-*•]|\d+[.)])\s*")
_NONE_SET = re.compile(r"\bno\b.{0,30}\b(actions?|problems?|issues?|decisions?)\b", re.I)


def _lines(items: list[str]) -> list[str]:
    out = []
    for line in items or []:
        text = _DEBRIS.sub("", line).strip()
        if len(text.split()) >= 2:
            out.append(text)
    return out


def ami_cases(path: Path = REPORTS, meetings: tuple[str, ...] = SCORED_MEETINGS
              ) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        report = json.loads(line)
        if not report["meeting"].startswith(meetings):
            continue
        parts = {k: _lines(report.get(k, [])) for k in ("abstract", "decisions", "actions",
                                                       "problems")}
        text = "\n".join(s if s.endswith((".", "!", "?")) else s + "."
                         for k in ("abstract", "decisions", "actions", "problems")
                         for s in parts[k])
        if not text.strip():
            continue
        cases.append({
            "id": report["id"], "author_role": "mentee", "text": text,
            "gold": {"action_items": [a for a in parts["actions"] if not _NONE_SET.search(a)],
                     "blockers": [p for p in parts["problems"] if not _NONE_SET.search(p)]},
        })
    return cases
