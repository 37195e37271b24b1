"""An author's corrections of a reading, turned into labelled sentences for retraining.

When the author edits the action items, blockers or sentiment the reader found, each change
says something about one of their sentences: an item they removed came from a sentence that
is not a commitment; an item they added is said by the sentence closest to it; the same for
blockers and obstacles; a changed sentiment labels the whole reflection. Owners and due dates
they fix are kept too, to measure the reader by, though no classifier learns them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from coach.reader.reader import Reading
from coach.text.sentences import overlap

SAME_ITEM = 0.5  # token overlap (Dice) at which an edited item is the reader's item reworded


@dataclass(frozen=True)
class Correction:
    label: str  # commitment | obstacle | sentiment
    sentence: str
    value: str  # yes | no, or the sentiment
    detail: dict[str, Any] | None = None

    def to_row(self) -> dict[str, Any]:
        return {"label": self.label, "sentence": self.sentence, "value": self.value,
                "detail": self.detail}


def _closest(text: str, sentences: list[str]) -> str | None:
    scored = sorted(((overlap(text, s), s) for s in sentences), reverse=True)
    return scored[0][1] if scored and scored[0][0] > 0 else None


def _pairs(before: list[str], after: list[str]) -> dict[int, int]:
    """Which edited item (after) is which found item (before), most similar first."""
    scored = sorted(((overlap(a, b), i, j) for i, b in enumerate(before)
                     for j, a in enumerate(after)), reverse=True)
    used_i, used_j, out = set(), set(), {}
    for score, i, j in scored:
        if score < SAME_ITEM:
            break
        if i not in used_i and j not in used_j:
            out[i] = j
            used_i.add(i)
            used_j.add(j)
    return out


def corrections(reading: Reading, text: str, *, action_items: list[dict[str, Any]] | None,
                blockers: list[str] | None, sentiment: str | None) -> list[Correction]:
    trusted = reading.trusted
    out: list[Correction] = []
    if action_items is not None:
        found = reading.action_items
        matched = _pairs([a["text"] for a in found], [a["text"] for a in action_items])
        for i, item in enumerate(found):
            sentence = reading.sentences[item["sentence"]].text
            if i not in matched:
                out.append(Correction("commitment", sentence, "no"))
                continue
            edited = action_items[matched[i]]
            if (edited.get("owner"), edited.get("due")) != (item["owner"], item["due"]):
                out.append(Correction("commitment", sentence, "yes",
                                      {k: edited.get(k) for k in ("text", "owner", "due")}))
        for j, edited in enumerate(action_items):
            if j not in matched.values():
                sentence = _closest(edited["text"], trusted)
                if sentence:
                    out.append(Correction("commitment", sentence, "yes",
                                          {k: edited.get(k) for k in ("text", "owner", "due")}))
    if blockers is not None:
        matched = _pairs(reading.blockers, blockers)
        for i, blocker in enumerate(reading.blockers):
            if i not in matched:
                sentence = _closest(blocker, trusted)
                if sentence:
                    out.append(Correction("obstacle", sentence, "no"))
        for j, blocker in enumerate(blockers):
            if j not in matched.values():
                sentence = _closest(blocker, trusted)
                if sentence:
                    out.append(Correction("obstacle", sentence, "yes", {"text": blocker}))
    if sentiment is not None and sentiment != reading.sentiment:
        out.append(Correction("sentiment", text, sentiment))
    return out
