"""BM25 over an inverted index: scores only the documents that share a term with the query."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence

import numpy as np

from coach.text.tokens import tokenize


def query_terms(query: str) -> dict[str, float]:
    """Each distinct query word once, at weight 1 (no synonyms: the vector side handles
    paraphrase, for every corpus alike)."""
    return {t: 1.0 for t in dict.fromkeys(tokenize(query))}


class BM25Index:
    """Okapi BM25 (k1=1.5, b=0.75) with postings kept as numpy arrays."""

    def __init__(self, texts: Sequence[str], *, k1: float = 1.5, b: float = 0.75):
        self.k1, self.b = k1, b
        self.size = len(texts)
        lengths = np.zeros(self.size, dtype=np.float32)
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for doc_id, text in enumerate(texts):
            counts = Counter(tokenize(text))
            lengths[doc_id] = sum(counts.values())
            for term, tf in counts.items():
                postings[term].append((doc_id, tf))
        self._avg = (float(lengths.mean()) if self.size else 1.0) or 1.0
        self._norm = k1 * (1 - b + b * lengths / self._avg)
        self._postings: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}
        for term, plist in postings.items():
            docs = np.fromiter((d for d, _ in plist), dtype=np.int32, count=len(plist))
            tfs = np.fromiter((t for _, t in plist), dtype=np.float32, count=len(plist))
            self._postings[term] = (docs, tfs, self._idf(len(plist)))

    def _idf(self, df: int) -> float:
        return math.log(1 + (self.size - df + 0.5) / (df + 0.5))

    def top(
        self, query: str, n: int, allowed: Callable[[int], bool] | None = None
    ) -> list[tuple[int, float]]:
        """The ``n`` best (document index, score) pairs with a positive score."""
        scores: dict[int, float] = {}
        acc = np.zeros(self.size, dtype=np.float32) if self.size else None
        touched: list[np.ndarray] = []
        for term, weight in query_terms(query).items():
            entry = self._postings.get(term)
            if entry is None or acc is None:
                continue
            docs, tfs, idf = entry
            acc[docs] += weight * idf * tfs * (self.k1 + 1) / (tfs + self._norm[docs])
            touched.append(docs)
        if not touched or acc is None:
            return []
        candidates = np.unique(np.concatenate(touched))
        order = candidates[np.argsort(-acc[candidates], kind="stable")]
        for doc in order:
            doc = int(doc)
            if allowed is None or allowed(doc):
                scores[doc] = float(acc[doc])
                if len(scores) >= n:
                    break
        return list(scores.items())

    def score_texts(self, query: str, texts: Sequence[str]) -> list[float]:
        """BM25 scores of texts outside the index (a pair's own records), using the index's
        document frequencies and average length so they rank on the same scale."""
        terms = query_terms(query)
        scores = []
        for text in texts:
            counts = Counter(tokenize(text))
            norm = self.k1 * (1 - self.b + self.b * sum(counts.values()) / self._avg)
            score = 0.0
            for term, weight in terms.items():
                tf = counts.get(term)
                if not tf:
                    continue
                entry = self._postings.get(term)
                idf = entry[2] if entry is not None else self._idf(0)
                score += weight * idf * tf * (self.k1 + 1) / (tf + norm)
            scores.append(score)
        return scores
