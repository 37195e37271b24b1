"""Chat suite: does the prep chat cite the guidance that answers a question, and say so when
the guidance does not cover it?

Gold (evals/ANNOTATION.md, section 6): each question with the guidance sections that answer
it (``file.md#Heading``), or ``covered: false`` and no sections.

* citation.precision: share of the answers' citations that are a gold section (a citation of
  the pair's own notes counts against it: the gold lists only guidance).
* citation.recall: share of gold sections cited; answered: share of covered questions whose
  answer cites at least one gold section.
* not_covered.accuracy: share of uncovered questions answered "not covered";
  covered.accuracy: share of covered questions answered from the guidance.
* all_cited_relevant: share of covered questions whose answer cites only gold sections (every
  cited passage bears on the question).

Beside them: the retriever's top two guidance passages taken as the citations
(baseline_retrieval.*), and answering every question "not covered" (baseline_refuse.*).

And the model's share: fallback_rate (the composed answer stood), changed_rate (the model's
answer was used and differs from the composed one; on the embedded model the chat chooses the
guidance's sentences), truncated_rate (phrase: the answer ended before a sentence that failed
its checks), and withdrawn_rate: the share of chats whose streamed text is not the final answer
(text shown and later taken back). The chat never withdraws text, so it must be 0.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from coach.container import Container
from coach.features.chat import NOT_COVERED, ChatEvent
from evals.builders import build_pair
from evals.metrics import latency

GUIDANCE_KINDS = ["guideline", "document", "topic"]


def is_gold(source: str, heading: str, section: str) -> bool:
    """Whether a cited passage (its source path and heading path) is the gold section."""
    file, _, title = section.partition("#")
    path = source.replace("\\", "/")
    headings = [h.strip().casefold() for h in heading.split(" > ")]
    return (path == file or path.endswith("/" + file)) and title.strip().casefold() in headings


def citation_counts(cited: list[tuple[str, str]], sections: list[str]) -> tuple[int, int, int]:
    """(cited, of them gold, gold sections cited)."""
    right = sum(any(is_gold(s, h, g) for g in sections) for s, h in cited)
    found = sum(any(is_gold(s, h, g) for s, h in cited) for g in sections)
    return len(cited), right, found


def withdrawn(events: list[ChatEvent]) -> bool:
    """Whether a chat showed text it then took back: its token events do not add up to the
    final answer exactly."""
    done = next(e.data for e in events if e.type == "done")
    return "".join(e.data for e in events if e.type == "token") != done["answer"]


def run_chat(cases: list[dict[str, Any]], container: Container, dataset: Path,
             backend: str = "none") -> dict[str, Any]:
    results, times, fallbacks, changed, truncated, taken_back = [], [], 0, 0, 0, 0
    totals = {"mine": [0, 0, 0, 0], "baseline_retrieval": [0, 0, 0, 0]}  # cited, right, found, gold
    answered = covered_right = covered_n = refused_right = refused_n = 0
    all_relevant = 0
    with container.scratch_store() as scratch:
        coach = scratch.features(backend)
        for case in cases:
            pair = build_pair(scratch, case, summarise=False)
            person = pair.mentor.id if case.get("role", "mentor") == "mentor" else pair.mentee.id
            gold = case.get("gold", {})
            sections = list(gold.get("sections") or [])
            is_covered = bool(gold.get("covered", bool(sections)))
            started = time.perf_counter()
            events = list(coach.chat(pair.id, person, case["question"]))
            done = events[-1].data
            times.append((time.perf_counter() - started) * 1000)
            fallbacks += bool(done["provenance"]["fallback"])
            changed += bool(done["provenance"].get("changed"))
            truncated += bool(done["provenance"].get("truncated"))
            taken_back += withdrawn(events)
            cited = [(c["source"], c["heading"]) for c in done["citations"]]
            refused = done["answer"] == NOT_COVERED or not done["covered"]
            hits = scratch.retriever.search(case["question"], 2, kinds=GUIDANCE_KINDS)
            baseline = [(h.source, h.heading) for h in hits]
            for name, chosen in (("mine", cited), ("baseline_retrieval", baseline)):
                if is_covered:
                    n, right, found = citation_counts(chosen, sections)
                    t = totals[name]
                    t[0] += n
                    t[1] += right
                    t[2] += found
                    t[3] += len(sections)
            if is_covered:
                covered_n += 1
                covered_right += not refused
                answered += citation_counts(cited, sections)[2] > 0
                n_cited, right, _ = citation_counts(cited, sections)
                all_relevant += bool(n_cited) and right == n_cited
            else:
                refused_n += 1
                refused_right += refused
            results.append({"id": case["id"], "passed": (refused != is_covered) and (
                            not is_covered or citation_counts(cited, sections)[2] > 0),
                            "details": {"question": case["question"], "gold": gold,
                                        "answer": done["answer"], "citations": cited,
                                        "fallback_reason": done["provenance"].get("fallback_reason")}})

    def ratio(a: int, b: int, empty: float = 1.0) -> float:
        return a / b if b else empty

    metrics: dict[str, float] = {}
    for name, (n, right, found, gold_n) in totals.items():
        prefix = "" if name == "mine" else f"{name}."
        metrics[f"{prefix}citation.precision"] = ratio(right, n, 0.0)
        metrics[f"{prefix}citation.recall"] = ratio(found, gold_n)
    metrics["answered"] = ratio(answered, covered_n)
    metrics["covered.accuracy"] = ratio(covered_right, covered_n)
    metrics["not_covered.accuracy"] = ratio(refused_right, refused_n)
    metrics["baseline_refuse.not_covered.accuracy"] = 1.0 if refused_n else 0.0
    metrics["baseline_refuse.covered.accuracy"] = 0.0
    metrics["all_cited_relevant"] = ratio(all_relevant, covered_n)
    metrics.update(latency(times))
    metrics["fallback_rate"] = fallbacks / max(1, len(cases))
    metrics["changed_rate"] = changed / max(1, len(cases))
    metrics["truncated_rate"] = truncated / max(1, len(cases))
    metrics["withdrawn_rate"] = taken_back / max(1, len(cases))
    return {"metrics": metrics, "cases": results}
