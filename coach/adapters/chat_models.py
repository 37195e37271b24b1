"""Settings pick the chat-model adapter."""

from __future__ import annotations

from coach.domain.errors import InvalidInput
from coach.ports import ChatModel
from coach.settings import Settings

BACKENDS = ("embedded", "openai", "none")


def make_chat_model(settings: Settings, backend: str | None = None) -> ChatModel | None:
    backend = (backend or settings.llm_backend).strip().lower()
    if backend == "none":
        return None
    if backend == "embedded":
        from coach.adapters.llama_cpp_chat import EmbeddedChatModel

        return EmbeddedChatModel(settings.llm_model_path, n_ctx=settings.llm_context,
                                 threads=settings.llm_threads, temperature=settings.llm_temperature,
                                 seed=settings.llm_seed, max_tokens=settings.llm_max_tokens)
    if backend == "openai":
        from coach.adapters.openai_chat import OpenAIChatModel

        return OpenAIChatModel(settings.openai_base_url, settings.openai_model,
                               settings.openai_api_key, temperature=settings.llm_temperature,
                               max_tokens=settings.llm_max_tokens,
                               timeout_s=settings.openai_timeout_s,
                               json_method=settings.openai_json_method, seed=settings.llm_seed)
    raise InvalidInput(f"Unknown backend {backend!r}. Use one of: {', '.join(BACKENDS)}.")
