"""Any OpenAI-compatible server (Ollama, vLLM, llama.cpp server, OpenAI) through LangChain.

The JSON method is set explicitly (``json_schema`` by default, ``json_object`` for servers that
ignore schemas) and the output is always validated by the caller, never trusted.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from coach.domain.errors import BackendUnavailable
from coach.ports import ChatResult, ModelCapabilities


def _unreachable(base_url: str, exc: Exception) -> BackendUnavailable:
    return BackendUnavailable(
        f"Cannot reach the OpenAI-compatible server at {base_url} ({exc.__class__.__name__}). "
        "Start it, or fix COACH_OPENAI_BASE_URL, or set COACH_LLM_BACKEND=embedded."
    )


class OpenAIChatModel:
    """The ChatModel port on any OpenAI-compatible server, through langchain-openai."""

    # a server is assumed to run a model that writes well; COACH_SUMMARY_MODE and
    # COACH_CHAT_MODE say otherwise for a small one
    capabilities = ModelCapabilities(phrases=True)

    def load(self) -> None:
        """Nothing to load here: the server holds the weights."""

    def __init__(self, base_url: str, model: str, api_key: str = "not-needed", *,
                 temperature: float = 0.2, max_tokens: int = 384, timeout_s: float = 60.0,
                 json_method: str = "json_schema", seed: int | None = 7):
        from langchain_openai import ChatOpenAI

        self.base_url = base_url
        self.timeout_s = timeout_s
        self.name = f"openai:{model}"
        self.json_method = json_method
        self.max_tokens = max_tokens
        self._chat = ChatOpenAI(base_url=base_url, model=model, api_key=api_key,
                                temperature=temperature, max_tokens=max_tokens,
                                timeout=timeout_s, max_retries=1, seed=seed)

    def _errors(self):
        import httpx
        import openai

        return (openai.APIConnectionError, httpx.ConnectError, ConnectionError)

    def _timeout(self) -> type[Exception]:
        import openai

        return openai.APITimeoutError

    def _busy(self) -> TimeoutError:
        # A server that is reachable but too busy to answer in time is a model failure, not an
        # outage: the caller falls back to the composer's result instead of answering 503.
        return TimeoutError(f"the model server at {self.base_url} did not answer within "
                            f"{self.timeout_s:g} s (raise COACH_OPENAI_TIMEOUT_S, or add capacity)")

    def complete(self, messages: list[dict[str, str]], *, json_schema: dict | None = None,
                 max_tokens: int | None = None) -> ChatResult:
        kwargs: dict[str, Any] = {"max_tokens": max_tokens or self.max_tokens}
        if json_schema is not None:
            if self.json_method == "json_schema":
                kwargs["response_format"] = {"type": "json_schema", "json_schema": {
                    "name": "coach_output", "schema": json_schema, "strict": False}}
            else:
                # llama-cpp-python's server (and llama.cpp's) turn this "schema" into a grammar;
                # servers that only know plain JSON mode ignore it.
                kwargs["response_format"] = {"type": "json_object", "schema": json_schema}
        try:
            message = self._chat.invoke(messages, **kwargs)
        except self._timeout():  # before _errors(): a timeout is also an APIConnectionError
            raise self._busy() from None
        except self._errors() as exc:
            raise _unreachable(self.base_url, exc) from None
        usage = getattr(message, "usage_metadata", None) or {}
        content = message.content if isinstance(message.content, str) else str(message.content)
        return ChatResult(content, usage.get("input_tokens", 0), usage.get("output_tokens", 0))

    def stream(self, messages: list[dict[str, str]], *, max_tokens: int | None = None) -> Iterator[str]:
        try:
            for chunk in self._chat.stream(messages, max_tokens=max_tokens or self.max_tokens):
                if isinstance(chunk.content, str) and chunk.content:
                    yield chunk.content
        except self._timeout():
            raise self._busy() from None
        except self._errors() as exc:
            raise _unreachable(self.base_url, exc) from None
