"""Whether a sentence the coach writes about a reflection is supported by it: a learned check.

The word-overlap check (coach.text.sentences.support) turns down most honest paraphrases and
takes a claim about the wrong person for a true one. This check weighs it together with the
meaning of the claim (cosine similarity, on the reader's MiniLM, to the nearest stretch of the
reflection) and with what a corruption changes: a number or date the reflection never states,
a negation the nearest sentence lacks, another person doing the thing. The reflection is
written in the first person, so "I" is read as its author and "she" or "he" as the partner
before anything is compared.

The weights (support_model.json) are a logistic regression fitted on the train claims alone,
its threshold chosen by cross-validation there: ``python -m evals.calibrate support``.
Without an embedder (or weights) the word-overlap check decides, as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coach.generation.logistic import LogisticModel
from coach.text.sentences import clauses, is_supported, negated, specifics, split_sentences
from coach.text.sentences import support as word_support
from coach.text.tokens import tokenize

Embed = Callable[[Sequence[str]], np.ndarray]
PACKAGED = Path(__file__).resolve().parent / "support_model.json"
FEATURES = ("words", "words_as_written", "words_anywhere", "similarity", "second_similarity",
            "specifics_stated", "specifics_nearby", "negation_agrees", "negated", "same_person")

_FIRST_PERSON = re.compile(r"\b(?:I|me|my|mine|myself|I'm|I've|I'll|I'd)\b")
_THIRD_PERSON = re.compile(r"\b(?:she|he|her|him|his|hers|herself|himself)\b", re.IGNORECASE)


@dataclass(frozen=True)
class SupportModel(LogisticModel):
    FEATURES = FEATURES
    FIT_COMMAND = "python -m evals.calibrate support"

    @classmethod
    def load(cls, path: Path = PACKAGED) -> SupportModel:
        return super().load(path)


# Capitals that are far more often an acronym than a person's initials.
_NOT_INITIALS = frozenset({"A", "I", "AI", "HR", "IT", "OK", "PR", "QA", "ID", "TV", "UK", "US", "AM",
                           "PM", "CV", "VP", "HQ", "PA"})
_TITLE = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?"


def other_names(names: Mapping[str, str]) -> list[tuple[re.Pattern[str], str]]:
    """How notes refer to each person other than by first name, and that first name: the
    surname, with an initial or a title ("L. Mokoena", "Ms Mokoena"), and the initials ("JC",
    "S to share")."""
    out: list[tuple[re.Pattern[str], str]] = []
    firsts: dict[str, list[str]] = {}
    for full in (n for n in names if " " in n.strip()):
        first, *_, last = full.split()
        initials = "".join(p[0] for p in full.split()).upper()
        firsts.setdefault(first[0].upper(), []).append(first)
        out.append((re.compile(rf"\b(?:{_TITLE}\s+|{re.escape(first[0])}\.?\s+)?{re.escape(last)}\b"),
                    first))
        if initials not in _NOT_INITIALS:
            dotted = r"\.?".join(map(re.escape, initials))
            out.append((re.compile(rf"\b{dotted}\b\.?"), first))
    out += [(re.compile(rf"(?<![\w.'’]){re.escape(letter)}\b(?![.'’]\w)"), people[0])
            for letter, people in firsts.items() if len(people) == 1 and letter not in _NOT_INITIALS]
    return out


def in_third_person(text: str, names: Mapping[str, str] | None, author_role: str | None) -> str:
    """The reflection with "I" as its author's first name and "she"/"he" as the partner's; a
    surname or initials as the first name."""
    if not names:
        return text
    for pattern, first_name in other_names(names):
        text = pattern.sub(first_name, text)
    if author_role not in ("mentor", "mentee"):
        return text
    partner_role = "mentee" if author_role == "mentor" else "mentor"
    first = {role: min((n for n, r in names.items() if r == role), key=len, default="")
             for role in (author_role, partner_role)}
    if first[author_role]:
        text = _FIRST_PERSON.sub(first[author_role], text)
    if first[partner_role]:
        text = _THIRD_PERSON.sub(first[partner_role], text)
    return text


_CLAUSE_START = re.compile(r"[,;:]|\b(?:and|but|because|so|while|then|after|before|which)\b",
                           re.IGNORECASE)


def doers(claim: str, nearest: str, people: Sequence[str]) -> tuple[str | None, str | None]:
    """Who does the thing, in the claim and in the stretch of the reflection nearest to it:
    the claim's first named person, and in the reflection the first person named in the
    clause where the claim's next word appears ("..., and Farah will *send* Jonathan...")."""
    def named(text: str) -> list[tuple[int, str]]:
        return sorted((m.start(), p) for p in people
                      for m in re.finditer(rf"\b{re.escape(p)}\b", text, re.IGNORECASE))

    in_claim = named(claim)
    if not in_claim:
        return None, None
    start, person = in_claim[0]
    names = {p.lower() for p in people}
    words = [w for w in tokenize(claim[start + len(person):]) if w not in names]
    tokens = [(m.start(), set(tokenize(m.group(0)))) for m in re.finditer(r"[\w'’]+", nearest)]
    at = next((i for w in words for i, stems in tokens if w in stems), None)
    if at is None:
        return person, None
    clause = max((m.end() for m in _CLAUSE_START.finditer(nearest, 0, at)), default=0)
    inside = [p for i, p in named(nearest) if clause <= i < at]
    return person, (inside[0] if inside else None)


class SupportCheck:
    """``accepts(claim, sources)``: whether the sources (a reflection, or its sentences)
    support the claim."""

    def __init__(self, embed: Embed | None, model: SupportModel | None = None):
        self.embed = embed
        self.model = model if model is not None or embed is None else _packaged()
        self._prepared: dict[tuple, tuple[str, list[str], list[str], np.ndarray]] = {}

    def _windows(self, sources: Sequence[str], names: Mapping[str, str] | None,
                 author_role: str | None) -> tuple[str, list[str], list[str], np.ndarray]:
        """The reflection in the third person, its clauses, the clauses and pairs of
        neighbouring clauses, and their vectors: kept for the last few reflections, since a
        summary's every sentence is checked against the same one."""
        key = (tuple(sources), tuple(sorted((names or {}).items())), author_role)
        if key not in self._prepared:
            text = in_third_person(" ".join(sources), names, author_role)
            parts = clauses(text) or [text]
            windows = parts + [f"{a} {b}" for a, b in zip(parts, parts[1:])]
            vectors = np.asarray(self.embed(windows), dtype=np.float32)
            while len(self._prepared) >= 8:
                self._prepared.pop(next(iter(self._prepared)))
            self._prepared[key] = (text, parts, windows, vectors)
        return self._prepared[key]

    def features(self, claim: str, sources: Sequence[str], *, names: Mapping[str, str] | None = None,
                 author_role: str | None = None) -> np.ndarray:
        assert self.embed is not None
        text, parts, windows, vectors = self._windows(sources, names, author_role)
        similarity = vectors @ np.asarray(self.embed([claim]), dtype=np.float32)[0]
        order = np.argsort(-similarity)
        best = int(order[0])
        nearest = windows[best]
        around = " ".join(parts[max(0, best - 1):best + 2]) if best < len(parts) else nearest
        words = set(tokenize(claim))
        wanted = specifics(claim)
        people = sorted({n for n in (names or {}) if " " not in n})
        said_by = doers(claim, nearest, people)
        return np.array([
            word_support(claim, [text]),
            word_support(claim, [" ".join(sources)]),
            len(words & set(tokenize(text))) / max(1, len(words)),
            float(similarity[best]),
            float(similarity[order[1]]) if len(order) > 1 else 0.0,
            float(wanted <= specifics(text)),
            float(wanted <= specifics(around)),
            float(negated(claim) == negated(nearest)),
            float(negated(claim)),
            0.5 if None in said_by else float(said_by[0] == said_by[1]),
        ])

    def accepts(self, claim: str, sources: Sequence[str], *,
                names: Mapping[str, str] | None = None, author_role: str | None = None) -> bool:
        if _plain(claim) in {_plain(s) for src in sources for s in split_sentences(src) or [src]}:
            return True  # a whole sentence of the reflection, as written
        if self.embed is None or self.model is None:
            return is_supported(claim, sources)
        if not specifics(claim) <= specifics(" ".join(sources)):
            return False  # a number, day or month the reflection never states
        features = self.features(claim, sources, names=names, author_role=author_role)
        return bool(self.model.probability(features)[0] >= self.model.threshold)


def _plain(sentence: str) -> str:
    """A sentence without the full stop or capital that joining sentences may add."""
    return re.sub(r"[\s.!?…]+$", "", sentence.strip()).casefold()


_model: SupportModel | None = None


def _packaged() -> SupportModel | None:
    global _model
    if _model is None and PACKAGED.exists():
        _model = SupportModel.load(PACKAGED)
    return _model
