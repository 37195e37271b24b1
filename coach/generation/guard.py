"""Guarded generation, shared by every feature.

A deterministic composer always builds a complete, grounded result first. A model, when one is
configured, may improve it or choose within a JSON schema (a grammar on llama.cpp). Its output
is parsed, checked against the schema, merged, and validated (ids, sources, timing,
faithfulness). Any failure returns the composer's result. Users are told why only as one of a
few fixed reasons: the details quote the model, whose words are untrusted and may echo other
inputs, so they go to the server log alone.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

import jsonschema

from coach.domain.errors import BackendUnavailable
from coach.ports import ChatModel

log = logging.getLogger(__name__)
T = TypeVar("T")


class FallbackReason(StrEnum):
    """Why the composer's result stands, as users see it (``provenance.fallback_reason``)."""

    MALFORMED = "the model's output did not match the schema"
    UNSUPPORTED = "the model's answer was not supported by the sources"
    FAILED_CHECKS = "the model's answer did not pass the coach's checks"
    MODEL_FAILED = "the model failed"


class Rejected(Exception):
    """The model's output cannot be used. The message says why and may quote the model, so it
    is only logged; ``reason`` is what users see."""

    def __init__(self, detail: str, reason: FallbackReason = FallbackReason.FAILED_CHECKS):
        super().__init__(detail)
        self.reason = reason


@dataclass
class Provenance:
    backend: str
    fallback: bool = False
    fallback_reason: str | None = None
    latency_ms: float = 0.0
    tokens: int = 0
    sources: list[str] = field(default_factory=list)
    changed: bool = False  # the model's output was used and differs from the composer's

    def to_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "fallback": self.fallback, "changed": self.changed,
                "fallback_reason": self.fallback_reason, "latency_ms": round(self.latency_ms, 1),
                "tokens": self.tokens, "sources": list(dict.fromkeys(self.sources))}

    def fall_back(self, task: str, reason: FallbackReason, detail: str, *,
                  exc_info: bool = False) -> None:
        """Record that the composer's result stands: the fixed reason for users, the detail
        (which may quote the model) for the server log."""
        self.fallback, self.fallback_reason = True, reason.value
        log.warning("%s on %s fell back (%s): %s", task, self.backend, reason.value, detail,
                    exc_info=exc_info)


@dataclass
class Guarded(Generic[T]):
    value: T
    provenance: Provenance


def default_mode(model: ChatModel | None) -> str:
    """How a feature uses ``model`` unless settings say otherwise: "phrase" when its own
    sentences are worth checking, "choose" among the coach's when they are not."""
    return "choose" if model is not None and not model.capabilities.phrases else "phrase"


def parse_json_object(text: str) -> dict[str, Any]:
    text = text.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Rejected(f"the model's output is not valid JSON ({exc.msg} at {exc.pos})",
                       FallbackReason.MALFORMED) from None
    if not isinstance(data, dict):
        raise Rejected("the model's output is not a JSON object", FallbackReason.MALFORMED)
    return data


def guarded_generate(
    *,
    task: str,
    backend: str,
    model: ChatModel | None,
    composed: T,
    validate: Callable[[T], list[str]],
    messages: Callable[[], list[dict[str, str]]] | None = None,
    schema: dict[str, Any] | None = None,
    merge: Callable[[dict[str, Any], T], T] | None = None,
    sources: list[str] | None = None,
    max_tokens: int | None = None,
) -> Guarded[T]:
    started = time.perf_counter()
    provenance = Provenance(backend=backend, sources=list(sources or []))
    result = composed
    if model is not None and messages is not None and schema is not None and merge is not None:
        try:
            reply = model.complete(messages(), json_schema=schema, max_tokens=max_tokens)
            provenance.tokens = reply.prompt_tokens + reply.completion_tokens
            data = parse_json_object(reply.text)
            try:
                jsonschema.validate(data, schema)
            except jsonschema.ValidationError as exc:
                raise Rejected(f"schema: {exc.message}", FallbackReason.MALFORMED) from None
            candidate = merge(data, composed)
            problems = validate(candidate)
            if problems:
                raise Rejected("; ".join(problems))
            result = candidate
            provenance.changed = candidate != composed
        except BackendUnavailable:
            raise
        except Rejected as exc:
            provenance.fall_back(task, exc.reason, str(exc))
        except Exception as exc:  # a model failure must never lose the composer's result
            provenance.fall_back(task, FallbackReason.MODEL_FAILED,
                                 f"{exc.__class__.__name__}: {exc}", exc_info=True)
    provenance.latency_ms = (time.perf_counter() - started) * 1000
    return Guarded(result, provenance)
