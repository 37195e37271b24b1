"""Tokenisation for the keyword side of retrieval."""

from __future__ import annotations

import re
from functools import lru_cache

_TOKEN = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")

STOPWORDS = frozenset(
    [
        "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are",
        "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but",
        "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for",
        "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself",
        "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself",
        "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on",
        "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same",
        "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them",
        "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too",
        "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which",
        "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself",
        "yourselves", "should", "shall", "may", "might", "must", "also", "get", "got", "let",
        "lets", "us", "one"
    ]
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


# Two phrases name the same item (action item, blocker) from this token-overlap F1 on. Chosen
# where it agrees best with people judging 551 (extracted, gold) pairs from training
# reflections (evals/datasets/match-judgments; `python -m evals.match_agreement`). At 0.5,
# 39% of the blocker pairs they called the same item fell below it.
SAME_ITEM_OVERLAP = 0.25


def token_f1(a: str, b: str) -> float:
    """Token-overlap F1 (stemmed content words) between two phrases."""
    ta, tb = tokenize(a), tokenize(b)
    if not ta or not tb:
        return 0.0
    common = sum(min(ta.count(t), tb.count(t)) for t in set(ta))
    if common == 0:
        return 0.0
    p, r = common / len(ta), common / len(tb)
    return 2 * p * r / (p + r)


@lru_cache(maxsize=16_384)
def _tokens(text: str) -> tuple[str, ...]:
    # Cached: the same titles, goals and sentences are compared many times per agenda.
    words = _TOKEN.findall(text.lower().replace("’", "'"))
    return tuple(stem(w.split("'")[0]) for w in words if w not in STOPWORDS and len(w) > 1)
