"""Due dates: time expressions found in a commitment, resolved against the session's date.

The conventions are the annotation guide's (evals/ANNOTATION.md), which are the ones people
mean in a working week: a weekday is the next such day after the session, "this week" is its
Friday, "next week" the Friday after, "end of the month" its last day, "before we next meet"
the pair's next booked session. Written dates are read day first, as in Britain, unless that
is impossible. Vague timing ("soon") has no date.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

_WEEKDAY = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_WEEKDAY_RE = (r"(?:monday|mon|tuesday|tues|tue|wednesday|weds|wed|thursday|thurs|thur|thu|"
               r"friday|fri|saturday|sat|sunday|sun)\.?")
_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m} | \
    {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m} | {"sept": 9}
_MONTH_RE = r"(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_NUM = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
        "seven": 7, "eight": 8, "nine": 9, "ten": 10}

# A time expression, longest forms first. Each alternative names what it means.
_EXPRESSION = re.compile(
    r"(?P<next_session>\b(?:before|by|until|till|at|for|in|to)?\s*(?:(?:our|the)\s+)?next\s+"
    r"(?:session|meeting|time|catch[- ]?up|call|slot|booking|chat|one[- ]to[- ]one|1[:-]1)\b"
    r"|\b(?:we|i)\s+(?:next\s+meet|meet\s+next|"
    r"meet\s+again)\b|\bmeet(?:ing)?\s+again\b|\bby\s+next\s+time\b)"
    r"|(?P<today>\b(?:eod|end of (?:the )?day|today|tonight|this evening)\b)"
    r"|(?P<tomorrow>\b(?:tomorrow|tmrw|tmr|tomoz)\b)"
    r"|(?P<fortnight>\b(?:in\s+)?a\s+fortnight\b|\bin\s+the\s+next\s+fortnight\b)"
    r"|(?P<in_n>\bin\s+(?P<n>\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten)\s+"
    r"(?P<unit>days?|weeks?)\b)"
    r"|(?P<this_week>\b(?:(?:by\s+)?(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?week|this\s+week|eow)\b)"
    r"|(?P<next_week>\bnext\s+week\b)"
    r"|(?P<month_end>\b(?:(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?month|month[- ]end|eom)\b)"
    r"|(?P<next_month>\bnext\s+month\b)"
    r"|(?P<quarter_end>\b(?:(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?quarter|quarter[- ]end|eoq)\b)"
    r"|(?P<slash>\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b)"
    r"|(?P<iso>\b\d{4}-\d{2}-\d{2}\b)"
    rf"|(?P<day_month>\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH_RE}(?!\w))"
    rf"|(?P<month_day>\b{_MONTH_RE}\s+\d{{1,2}}(?:st|nd|rd|th)?\b)"
    r"|(?P<ordinal>\bthe\s+\d{1,2}(?:st|nd|rd|th)\b)"
    rf"|(?P<weekday>\b(?:next\s+|this\s+|on\s+)?{_WEEKDAY_RE}(?![a-z]))",
    re.IGNORECASE)


@dataclass(frozen=True)
class TimeExpression:
    start: int
    end: int
    kind: str
    text: str


# A day or date used as a name ("the Friday bulletin", "every Monday") is not a time.
_AS_A_NAME = re.compile(r"\b(?:the|a|an|every|each|our|my|your|his|her|their|its)\s*$", re.I)


def find_expressions(text: str) -> list[TimeExpression]:
    """Every time expression in ``text``, in order."""
    out = []
    for m in _EXPRESSION.finditer(text):
        kind = next(k for k, v in m.groupdict().items() if v is not None and k not in
                    ("n", "unit"))
        if kind == "weekday" and (not _is_weekday(m.group(0)) or
                                  _AS_A_NAME.search(text[:m.start()])):
            continue
        out.append(TimeExpression(m.start(), m.end(), kind, m.group(0)))
    return out


# Units, names and clock times: what an entity recogniser would call a DATE or TIME ("we lost
# ten minutes", "after January", "the weekly report"), at a fraction of its cost. The reader
# uses it as one feature of its classifiers, never as a decision.
_NAMES_A_TIME = re.compile(
    r"\b(?:(?:minute|min|hour|hr|day|week|weekend|fortnight|month|year|quarter|morning|"
    r"afternoon|evening|night|term|semester|decade|second)s?|daily|weekly|monthly|quarterly|"
    r"yearly|annual(?:ly)?|yesterday|today|tomorrow|tonight|"
    r"(?:january|february|march|april|june|july|august|september|october|november|december|"
    r"jan|feb|apr|jun|jul|aug|sept?|oct|nov|dec)\.?|"
    r"(?:mon|tues|wednes|thurs|fri|satur|sun)day|"
    r"\d{1,2}(?::\d\d)?\s?(?:am|pm)|\d{1,2}:\d\d|(?:19|20)\d\d|\d0s)(?![a-z])",
    re.IGNORECASE)


def names_a_time(text: str) -> bool:
    """Whether the text mentions a time at all: a due date, a span, a month, a clock time."""
    return bool(_NAMES_A_TIME.search(text)) or bool(find_expressions(text))


def _is_weekday(text: str) -> bool:
    # "sat" and "sun" are words too: as days they are written out or capitalised
    word = text.split()[-1].rstrip(".")
    return word.lower()[:3] not in ("sat", "sun") or len(word) > 3 or word[:1].isupper()


def resolve(expression: TimeExpression, session: dt.date,
            next_session: dt.date | None) -> dt.date | None:
    kind, text = expression.kind, expression.text.lower()
    if kind == "next_session":
        return next_session
    if kind == "today":
        return session
    if kind == "tomorrow":
        return session + dt.timedelta(days=1)
    if kind == "fortnight":
        return session + dt.timedelta(days=14)
    if kind == "in_n":
        m = re.search(r"in\s+(\S+)\s+(day|week)", text)
        n = int(m.group(1)) if m.group(1).isdigit() else _NUM.get(m.group(1), 1)
        return session + dt.timedelta(days=n * (7 if m.group(2) == "week" else 1))
    if kind == "this_week":
        return _friday_of(session)
    if kind == "next_week":  # the Friday of the following calendar week
        return session + dt.timedelta(days=7 - session.weekday() + 4)
    if kind == "month_end":
        return _month_end(session.year, session.month)
    if kind == "next_month":
        year, month = (session.year + 1, 1) if session.month == 12 else (session.year,
                                                                         session.month + 1)
        return _month_end(year, month)
    if kind == "quarter_end":
        month = 3 * ((session.month - 1) // 3 + 1)
        return _month_end(session.year, month)
    if kind == "weekday":
        target = _WEEKDAY[text.split()[-1][:3]]
        return session + dt.timedelta(days=(target - session.weekday() - 1) % 7 + 1)
    if kind == "ordinal":
        day = ordinal_day(expression)
        return _on_or_after(session, lambda year, month: (year, month, day))
    return _explicit(expression, session)


def ordinal_day(expression: TimeExpression) -> int:
    """The day of the month a bare ordinal names ("the 10th" -> 10)."""
    return int(re.sub(r"\D", "", expression.text))


def _friday_of(day: dt.date) -> dt.date:
    """The Friday of a working week: the same day on a Friday, the next on a weekend."""
    return day + dt.timedelta(days=(4 - day.weekday()) % 7)


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _on_or_after(session: dt.date, make) -> dt.date | None:
    """The first date made by ``make(year, month)`` from the session's month on."""
    year, month = session.year, session.month
    for _ in range(13):
        try:
            candidate = dt.date(*make(year, month))
        except ValueError:
            candidate = None
        if candidate is not None and candidate >= session:
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def calendar_day(expression: TimeExpression) -> tuple[int, int] | None:
    """The (day, month) a written-out date names, whatever its year: 14/3 and 3/14 (day first
    unless that is impossible), 2026-03-14, 14 March, March 14th. None for other times."""
    kind, text = expression.kind, expression.text.lower()
    if kind == "iso":
        _, month, day = (int(p) for p in text.split("-"))
    elif kind == "slash":
        first, second = (int(p) for p in text.split("/")[:2])
        day, month = (first, second) if second <= 12 else (second, first)
    elif kind in ("day_month", "month_day"):
        words = re.findall(r"[a-z]+|\d+", text)
        day = next(int(w) for w in words if w.isdigit())
        month = next(_MONTHS[w] for w in words if w in _MONTHS)
    else:
        return None
    return (day, month) if 1 <= month <= 12 and 1 <= day <= 31 else None


def _explicit(expression: TimeExpression, session: dt.date) -> dt.date | None:
    """Dates written out: 14/3, 3/14, 2026-03-14, 14 March, March 14th."""
    text = expression.text
    if expression.kind == "iso":
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return None
    day_month = calendar_day(expression)
    if day_month is None:
        return None
    day, month = day_month
    parts = text.split("/")
    if expression.kind == "slash" and len(parts) == 3:
        year = int(parts[2]) + (2000 if int(parts[2]) < 100 else 0)
        try:
            return dt.date(year, month, day)
        except ValueError:
            return None
    return _in_year_from(session, month, day)


def _in_year_from(session: dt.date, month: int, day: int) -> dt.date | None:
    """That day in the session's year, or the next year when it would fall before it."""
    for year in (session.year, session.year + 1):
        try:
            candidate = dt.date(year, month, day)
        except ValueError:
            return None
        if candidate >= session:
            return candidate
    return None


_INTRODUCED = re.compile(r"\b(?:by|before|until|till|no later than|starting|from|on|within|"
                         r"for|due)\s*$", re.I)


def due_date(text: str, session: dt.date | None, next_session: dt.date | None
             ) -> tuple[dt.date | None, list[TimeExpression]]:
    """The due date a commitment states (the first resolvable expression), and where its
    time expressions are (so the item's wording can leave them out)."""
    expressions = find_expressions(text)
    if session is None:
        return None, expressions
    # "EOD Wed": the day, not the end of today
    ordered = [e for i, e in enumerate(expressions)
               if not (e.kind == "today" and i + 1 < len(expressions)
                       and expressions[i + 1].start - e.end <= 3)]
    # "starting next week", "by Friday": an expression a preposition introduces comes first
    ordered.sort(key=lambda e: not _INTRODUCED.search(text[:e.start]))
    for expression in ordered:
        when = resolve(expression, session, next_session)
        if when is not None or expression.kind == "next_session":
            return when, expressions
    return None, expressions
