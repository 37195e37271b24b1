"""Faithfulness suite: does the coach's support check tell a true summary claim from a false one?

Gold (evals/ANNOTATION.md, section 7): claims about the split's reflections, each an honest
paraphrase (supported) or a corruption: a negation flip, an owner, date or number swap, an
invented sentence, or a sentence from another reflection.

* detection: share of false claims the check rejects (and per kind, detection.<kind>).
* keep: share of honest paraphrases the check accepts.
* balanced: the mean of the two.

The check is the one the summariser uses (coach.generation.support.SupportCheck, on the reader's
MiniLM), told the pair's names where the case gives them, as the live path is.

Beside them: a MiniLM baseline that accepts a claim when its cosine similarity to the nearest
sentence of the reflection is at least 0.6, out of the box.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from coach.container import Container
from coach.generation.support import SupportCheck
from coach.text.sentences import split_sentences
from evals.datasets import load_cases
from evals.metrics import cosine_matrix, remembered
from evals.reflections import names_of

BASELINE_SIMILARITY = 0.6


def rates(rows: list[tuple[str, bool, bool]]) -> dict[str, float]:
    """(kind, gold supported, accepted) rows to detection, keep and per-kind detection."""
    false = [(k, a) for k, s, a in rows if not s]
    true = [a for _, s, a in rows if s]
    out = {"detection": sum(not a for _, a in false) / len(false) if false else 1.0,
           "keep": sum(true) / len(true) if true else 1.0}
    out["balanced"] = (out["detection"] + out["keep"]) / 2
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for kind, accepted in false:
        by_kind[kind].append(not accepted)
    out.update({f"detection.{k}": sum(v) / len(v) for k, v in sorted(by_kind.items())})
    return out


def claim_accepted(check: SupportCheck, claim: str, reflection: dict[str, Any]) -> bool:
    return check.accepts(claim, [reflection["text"]], names=names_of(reflection),
                         author_role=reflection.get("author_role"))


def run_faithfulness(cases: list[dict[str, Any]], container: Container, dataset: Path,
                     backend: str = "none") -> dict[str, Any]:
    reflections = {str(r["id"]): r for r in load_cases(dataset, "reflections")}
    missing = sorted({str(c["reflection_id"]) for c in cases} - set(reflections))
    if missing:
        raise ValueError(f"{dataset}: claims about reflections not in reflections.jsonl: "
                         f"{', '.join(missing[:5])}")
    rows, baseline_rows, results = [], [], []
    embed = remembered(container.embedder.embed_documents)
    check = SupportCheck(container.reader.embed)
    for case in cases:
        reflection = reflections[str(case["reflection_id"])]
        text = reflection["text"]
        accepted = claim_accepted(check, case["claim"], reflection)
        sentences = split_sentences(text) or [text]
        vectors = embed([case["claim"], *sentences])
        nearest = max(cosine_matrix(vectors[:1], vectors[1:])[0])
        rows.append((case["kind"], bool(case["supported"]), accepted))
        baseline_rows.append((case["kind"], bool(case["supported"]), nearest >= BASELINE_SIMILARITY))
        results.append({"id": case["id"], "passed": accepted == bool(case["supported"]),
                        "details": {"kind": case["kind"], "claim": case["claim"],
                                    "reflection_id": case["reflection_id"],
                                    "accepted": accepted, "nearest_similarity": round(nearest, 3)}})
    metrics = rates(rows)
    metrics.update({f"baseline_minilm.{k}": v for k, v in rates(baseline_rows).items()
                    if not k.startswith("detection.")})
    return {"metrics": metrics, "cases": results}
