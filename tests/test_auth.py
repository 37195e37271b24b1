"""Credentials in the core: one-time setup tokens, what a credential reads, sessions, limits."""

from __future__ import annotations

import datetime as dt

import pytest

from coach.store.credentials import SetupTokenOnly, SignInFailed, SignInThrottle, TokenService
from coach.store.models import utcnow


@pytest.fixture
def tokens(fake_container):
    return TokenService(fake_container.db, session_hours=1)


@pytest.fixture
def people(programme):
    return programme[1]


def test_a_setup_token_works_once_and_passes_on_its_horizon(tokens, people):
    sam = people["sam"]
    issued = tokens.issue_setup(sam.id, issued_by=people["cora"].id, label="reset")
    with pytest.raises(SetupTokenOnly):
        tokens.authenticate(issued.token)
    person, sid = tokens.sign_in("SAM@example.org ", issued.token)
    assert person.id == sam.id and person.private_from is not None
    assert not person.reads_private(person.private_from - dt.timedelta(seconds=1))
    assert person.reads_private(person.private_from)
    with pytest.raises(SignInFailed):
        tokens.sign_in("sam@example.org", issued.token)  # used up
    with pytest.raises(SignInFailed):
        tokens.exchange(issued.token)
    # a token made through that sign-in reads no further back
    own = tokens.issue_personal(sam.id, "mine", private_from=person.private_from)
    assert tokens.authenticate(own.token).private_from == person.private_from
    events = [e["kind"] for e in tokens.unseen_events(sam.id)]
    assert events == ["setup_token_issued", "setup_token_used"]
    assert tokens.acknowledge_events(sam.id) == 2 and tokens.unseen_events(sam.id) == []


def test_a_setup_token_expires_and_needs_the_right_email(tokens, people):
    old = tokens.issue_setup(people["sam"].id, issued_by=None,
                             now=utcnow() - dt.timedelta(days=8))
    with pytest.raises(SignInFailed):
        tokens.sign_in("sam@example.org", old.token)
    fresh = tokens.issue_setup(people["sam"].id, issued_by=None)
    with pytest.raises(SignInFailed):
        tokens.sign_in("mia@example.org", fresh.token)
    assert tokens.sign_in("sam@example.org", fresh.token)[0].id == people["sam"].id


def test_the_operator_may_vouch_for_history(tokens, people):
    issued = tokens.issue_setup(people["sam"].id, issued_by=None, reads_history=True)
    person, _ = tokens.exchange(issued.token)
    assert person.private_from is None


def test_revoking_a_token_ends_its_sessions_and_logout_ends_one(tokens, people):
    own = tokens.issue_personal(people["mia"].id)
    _, first = tokens.sign_in("mia@example.org", own.token)
    _, second = tokens.sign_in("mia@example.org", own.token)
    assert tokens.session_principal(first, people["mia"].id) is not None
    assert tokens.session_principal(first, people["sam"].id) is None  # not someone else's
    tokens.end_session(first)
    assert tokens.session_principal(first, people["mia"].id) is None
    assert tokens.session_principal(second, people["mia"].id) is not None
    tokens.revoke_token(people["mia"].id, own.token_id, actor_id=people["mia"].id)
    assert tokens.session_principal(second, people["mia"].id) is None
    assert tokens.authenticate(own.token) is None


def test_credentials_list_no_secrets(tokens, people):
    own = tokens.issue_personal(people["mia"].id, "laptop")
    tokens.sign_in("mia@example.org", own.token, user_agent="Firefox")
    listed = tokens.credentials(people["mia"].id)
    assert [t["label"] for t in listed["tokens"]] == ["laptop"]
    assert listed["sessions"][0]["user_agent"] == "Firefox"
    assert own.token not in repr(listed)


def test_the_throttle_counts_addresses_and_failing_emails_apart(fake_container):
    throttle = SignInThrottle(fake_container.db, limit=3, window_s=60)
    for n in range(3):
        assert throttle.check("10.0.0.1", f"user{n}@example.org") == 0
        throttle.record("10.0.0.1", f"user{n}@example.org", ok=False)
    assert throttle.check("10.0.0.1", "anyone@example.org") > 0  # one address, many emails
    for n in range(3):
        throttle.record(f"10.0.1.{n}", "mia@example.org", ok=False)
    assert throttle.check("10.0.2.9", "MIA@example.org") > 0  # one email, many addresses
    for n in range(5):
        throttle.record(f"10.0.3.{n}", "sam@example.org", ok=True)
    assert throttle.check("10.0.4.1", "sam@example.org") == 0  # successes do not lock anyone out
