"""The brief's rules for what may be stored: clean text within its limits, real dates,
sessions that are not held in the future, and who may mentor whom."""

from __future__ import annotations

import datetime as dt
import re
from typing import Protocol

from coach.domain.errors import InvalidInput, RuleViolation
from coach.domain.vocabulary import Role, SessionStatus

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_REFLECTION_CHARS = 20_000
MAX_SHORT_TEXT = 500
MAX_GOAL_CHARS = 1_000


def clean_text(value: str | None, what: str, *, max_chars: int, required: bool = True) -> str:
    """Strip, reject empty (when required) or over-long text, and control characters."""
    text = (value or "").replace("\r\n", "\n").strip()
    text = "".join(ch for ch in text if ch in "\n\t" or ord(ch) >= 32)
    if required and not text:
        raise InvalidInput(f"The {what} is empty. Write some text.")
    if len(text) > max_chars:
        raise InvalidInput(
            f"The {what} is {len(text):,} characters; the limit is {max_chars:,}. Shorten it."
        )
    return text


def parse_date(value: str | dt.date | None, what: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidInput(f"The {what} {value!r} is not a valid date. Use YYYY-MM-DD.") from None


def session_day(date: dt.date | str) -> dt.date:
    day = parse_date(date, "session date")
    if day is None:
        raise InvalidInput("A session needs a date (YYYY-MM-DD).")
    return day


def session_minutes(minutes: int) -> int:
    if not 5 <= minutes <= 480:
        raise InvalidInput("Session minutes must be between 5 and 480.")
    return minutes


def check_session_in_time(status: str, day: dt.date, today: dt.date) -> None:
    """A session that is held, or that someone missed, has happened: it cannot be in the future."""
    if status in (SessionStatus.held, SessionStatus.no_show) and day > today:
        raise InvalidInput(f"A session on {day} is in the future, so it cannot be {status}. "
                           "Log it as scheduled.")


class Pairable(Protocol):
    id: int
    name: str
    role: str
    manager_id: int | None
    department: str


def check_pairing_rules(mentor: Pairable, mentee: Pairable, warnings: list[str]) -> None:
    """The brief's pairing rules: raise on a hard rule, append a warning on a soft one."""
    if mentor.id == mentee.id:
        raise RuleViolation(f"{mentor.name} cannot mentor themselves. Pick two different people.")
    if mentor.role != Role.mentor:
        raise InvalidInput(f"{mentor.name} has role {mentor.role}; a pair's mentor needs role mentor.")
    if mentee.role != Role.mentee:
        raise InvalidInput(f"{mentee.name} has role {mentee.role}; a pair's mentee needs role mentee.")
    if mentor.manager_id == mentee.id:
        raise RuleViolation(
            f"{mentor.name} reports directly to {mentee.name}. In reverse mentoring the mentor "
            "must not be the mentee's direct report; pick another mentee."
        )
    if mentor.department and mentor.department.casefold() == mentee.department.casefold():
        warnings.append(
            f"{mentor.name} and {mentee.name} are both in {mentor.department}. Pairing inside "
            "one department is allowed, but cross-department pairs learn more and speak more freely."
        )
