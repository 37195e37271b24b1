"""The coordinator's programme-wide views are cached, and every write shows at once."""

from __future__ import annotations

import datetime as dt

from coach.store.health_queries import data_fingerprint

TODAY = dt.date.today()


def _pair(c, programme):
    _prog, people = programme
    return c.writes.add_pair(people["mia"].id, people["sam"].id, ["technology"],
                                starts_on=TODAY - dt.timedelta(days=90)).pair


def test_overview_is_reused_while_nothing_changes(fake_container, programme):
    _pair(fake_container, programme)
    monitor = fake_container.monitor
    first = monitor.overview()
    assert monitor.overview() is first


def test_every_kind_of_write_invalidates_the_dashboard(fake_container, programme):
    c = fake_container
    pair = _pair(c, programme)
    monitor = c.monitor
    before = monitor.overview()
    assert before["counts"]["stalled"] == 1  # 90 days with no session

    session = c.store.log_session(pair.id, TODAY - dt.timedelta(days=2), "held", minutes=45)
    after_session = monitor.overview()
    assert after_session is not before and after_session["counts"]["stalled"] == 0

    seen = {data_fingerprint(c.db)}
    c.store.update_session(pair.id, session.id, status="cancelled")
    seen.add(data_fingerprint(c.db))
    cancelled = monitor.overview()
    assert cancelled["counts"]["stalled"] == 1
    assert monitor.overview() is cancelled  # reused while nothing changes
    c.store.set_pair_status(pair.id, "paused")
    seen.add(data_fingerprint(c.db))
    assert len(seen) == 3
    assert monitor.overview() is not cancelled  # a pause is a write like any other
