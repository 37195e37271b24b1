"""Due dates from the time expressions of a commitment (the annotation guide's conventions)."""

from __future__ import annotations

import datetime as dt

import pytest

from coach.text.dates import due_date, find_expressions

MONDAY = dt.date(2026, 3, 2)
NEXT = dt.date(2026, 3, 16)


@pytest.mark.parametrize("text, expected", [
    ("I'll send it tomorrow", "2026-03-03"),
    ("send the deck tmrw", "2026-03-03"),
    ("by Wednesday", "2026-03-04"),
    ("on Monday", "2026-03-09"),  # the next Monday after the session, not the same day
    ("send deck to J by Fri", "2026-03-06"),
    ("before we next meet", "2026-03-16"),
    ("by our next session", "2026-03-16"),
    ("by next time", "2026-03-16"),
    ("before our next 1:1", "2026-03-16"),
    ("ahead of the next slot", "2026-03-16"),
    ("this week", "2026-03-06"),
    ("by the end of the week", "2026-03-06"),
    ("next week", "2026-03-13"),
    ("in two weeks", "2026-03-16"),
    ("in a fortnight", "2026-03-16"),
    ("by the end of the month", "2026-03-31"),
    ("by end of month", "2026-03-31"),
    ("next month", "2026-04-30"),
    ("by the end of the quarter", "2026-03-31"),
    ("by 14/3", "2026-03-14"),
    ("by 3/14", "2026-03-14"),  # impossible as day/month, so month/day
    ("by 1/2", "2027-02-01"),  # already past this year
    ("by the 14th", "2026-03-14"),
    ("on 3 April", "2026-04-03"),
    ("by March 20th", "2026-03-20"),
    ("EOD Wed", "2026-03-04"),
    ("soon", None),
    ("at some point", None),
])
def test_time_expressions_resolve_from_the_session_date(text, expected):
    due, _ = due_date(text, MONDAY, NEXT)
    assert (due.isoformat() if due else None) == expected


def test_weekends_and_the_last_day_of_a_period():
    saturday = dt.date(2026, 3, 7)
    assert due_date("this week", saturday, None)[0] == dt.date(2026, 3, 13)
    assert due_date("end of the month", dt.date(2026, 3, 31), None)[0] == dt.date(2026, 3, 31)
    friday = dt.date(2026, 3, 6)
    assert due_date("by the end of the week", friday, None)[0] == friday


def test_no_next_session_booked_means_no_date():
    assert due_date("before we next meet", MONDAY, None)[0] is None


def test_a_day_used_as_a_name_is_not_a_date():
    due, _ = due_date("I'll keep the Friday bulletin short, starting this week", MONDAY, NEXT)
    assert due == dt.date(2026, 3, 6)
    assert due_date("the travel money and the month ahead", MONDAY, NEXT)[0] is None


@pytest.mark.parametrize("text, named", [
    ("We lost about ten minutes to the wifi.", True),
    ("With the restructure I may not have time after January.", True),
    ("She wants feedback straight away, not at the monthly review.", True),
    ("The reminders go out at 2am.", True),
    ("I'll send it before we next meet.", True),
    ("She may join the call.", False),  # "may" the verb, not the month
    ("We marched through the slides.", False),
    ("Good session overall, thanks Amara!", False),
])
def test_a_mention_of_time_is_read_from_units_names_and_clock_times(text, named):
    """What the reader's "dated" feature sees, now that spaCy's entity recogniser is not loaded."""
    from coach.text.dates import names_a_time

    assert names_a_time(text) is named


def test_calendar_day_reads_a_written_date_day_first_unless_impossible():
    from coach.text.dates import calendar_day

    days = [calendar_day(e) for e in find_expressions(
        "by 14/3, or 3/14, 2026-04-20, 2 May, March 9th, 31/13 and next week")]
    assert days == [(14, 3), (14, 3), (20, 4), (2, 5), (9, 3), None, None]
