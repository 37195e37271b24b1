"""Domain vocabulary shared by the store, the services and the API."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    mentor = "mentor"
    mentee = "mentee"
    coordinator = "coordinator"
    admin = "admin"


# Who runs the programme: they see every pair's labels and what authors chose to share with
# them, never what anyone wrote privately.
STAFF_ROLES = (Role.coordinator, Role.admin)


class Focus(StrEnum):
    technology = "technology"
    generational = "generational"
    inclusion = "inclusion"


class PairStatus(StrEnum):
    active = "active"
    paused = "paused"
    closed = "closed"


class GoalStatus(StrEnum):
    open = "open"
    in_progress = "in_progress"
    achieved = "achieved"
    dropped = "dropped"


class SessionStatus(StrEnum):
    scheduled = "scheduled"
    held = "held"
    cancelled = "cancelled"
    no_show = "no_show"


class Visibility(StrEnum):
    """Who sees what is derived from a reflection. Its raw text is only ever the author's.

    private: the author alone; to anyone else it is the fact that one was written.
    pair: the partner sees the summary the author confirmed; coordinators see only labels.
    programme: coordinators also see the summary the author confirmed, as confirmed.
    """

    private = "private"
    pair = "pair"
    programme = "programme"


class Sentiment(StrEnum):
    positive = "positive"
    neutral = "neutral"
    negative = "negative"


class Owner(StrEnum):
    """Who owns an action item, relative to the pair."""

    mentor = "mentor"
    mentee = "mentee"


FOCUS_VALUES = tuple(f.value for f in Focus)


def parse_enum(enum: type[StrEnum], value: str, what: str) -> StrEnum:
    """Parse ``value`` or raise InvalidInput listing the accepted values."""
    from coach.domain.errors import InvalidInput

    try:
        return enum(value.strip().lower())
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise InvalidInput(f"Unknown {what} {value!r}. Use one of: {allowed}.") from None


def parse_focus_list(values: list[str] | tuple[str, ...] | str) -> list[str]:
    if isinstance(values, str):
        values = [v for v in values.split(",")]
    out: list[str] = []
    for value in values:
        if not value.strip():
            continue
        focus = parse_enum(Focus, value, "focus").value
        if focus not in out:
            out.append(focus)
    if not out:
        from coach.domain.errors import InvalidInput

        raise InvalidInput(f"A pair needs at least one focus area: {', '.join(FOCUS_VALUES)}.")
    return out
