"""Tokenisation for the keyword side of retrieval."""

from __future__ import annotations

import re
from functools import lru_cache

_TOKEN = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    should shall may might must also get got let lets us one""".split()
)


def stem(word: str) -> str:
    """A light suffix stemmer: enough to match plurals and common verb forms."""
    for suffix, keep in (("ies", "y"), ("ing", ""), ("edly", ""), ("ed", ""), ("es", ""),
                         ("s", ""), ("ly", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                return word
            if suffix == "es" and not word.endswith(("sses", "shes", "ches", "xes", "zes")):
                continue
            return word[: len(word) - len(suffix)] + keep
    return word


def tokenize(text: str) -> list[str]:
    return list(_tokens(text))


@lru_cache(maxsize=16_384)
def _tokens(text: str) -> tuple[str, ...]:
    # Cached: the same titles, goals and sentences are compared many times per agenda.
    words = _TOKEN.findall(text.lower().replace("’", "'"))
    return tuple(stem(w.split("'")[0]) for w in words if w not in STOPWORDS and len(w) > 1)


# Everyday words people type, mapped to the programme's own vocabulary. Used only to widen the
# keyword side of retrieval (at half weight); the vector side already handles paraphrase.
_THESAURUS_GROUPS = [
    "meeting session catch-up",
    "scheme programme program initiative",
    "exec executive director boss senior leader mentee",
    "junior graduate mentor",
    "stop end finish quit close ending wrap-up",
    "match matching pair pairing",
    "inactive idle quiet silent drift stall inactivity",
    "prove impact measure measuring evaluate survey",
    "chatgpt copilot chatbot llm generative assistant",
    "scam fraud phishing impersonation",
    "worry concern warning signal",
    "click chemistry mismatch mismatched",
]


def _build_thesaurus() -> dict[str, set[str]]:
    table: dict[str, set[str]] = {}
    for group in _THESAURUS_GROUPS:
        terms = {stem(w) for w in group.split() if w not in STOPWORDS}
        for term in terms:
            table.setdefault(term, set()).update(terms - {term})
    return table


THESAURUS = _build_thesaurus()


def expand(tokens: list[str]) -> dict[str, float]:
    """Query terms with weight 1, and their programme-vocabulary synonyms with weight 0.5."""
    weights = {t: 1.0 for t in tokens}
    for token in tokens:
        for synonym in THESAURUS.get(token, ()):
            weights.setdefault(synonym, 0.5)
    return weights
