"""Typed errors. Each message says what went wrong and what to do about it."""

from __future__ import annotations


class CoachError(Exception):
    """Base class; ``code`` is a stable machine-readable name."""

    code = "coach_error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(CoachError):
    code = "not_found"


class InvalidInput(CoachError):
    code = "invalid_input"


class RuleViolation(CoachError):
    """A programme rule from the guidelines forbids this (e.g. self-mentoring)."""

    code = "rule_violation"


class Conflict(CoachError):
    code = "conflict"


class BackendUnavailable(CoachError):
    """A configured model or vector server cannot be reached or loaded."""

    code = "backend_unavailable"


class StoreNotInitialised(CoachError):
    code = "not_initialised"

    def __init__(self, message: str = "The coach store is not initialised. Run `coach init` first."):
        super().__init__(message)


class UnsupportedType(InvalidInput):
    """A file of a type the coach cannot read."""

    code = "unsupported_type"


class TooLarge(InvalidInput):
    code = "too_large"
