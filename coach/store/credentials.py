"""Credentials: access tokens, sign-in sessions, what happened to them, and sign-in limits.

- A *personal* token is the person's own: made by themselves, from a credential they hold.
- A *setup* token is issued for someone by someone else (an admin, or the operator's CLI). It
  works once, to sign in or to be exchanged for a personal token, within SETUP_TOKEN_DAYS. What
  it leads to reads the person's private records only from the moment it was issued, so an
  admin who issues or resets someone's credentials reads none of what they wrote before.
  Every issue is recorded as an event that the person is shown until they acknowledge it.
- Sign-in sessions live in the database: logout and revocation end them at once, in every
  worker. A session or token revoked ends everything that grew from it.

Tokens and session ids are stored as SHA-256 hashes; the plain values are shown once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update

from coach.domain.errors import CoachError, NotFound
from coach.domain.records import PersonRecord, Principal
from coach.store.db import Database
from coach.store.models import ApiToken, CredentialEvent, Person, SignInAttempt, WebSession, utcnow

TOKEN_PREFIX = "rmc_"
SETUP_PREFIX = "rmc_setup_"
SETUP_TOKEN_DAYS = 7
LAST_USED_GRAIN_S = 60  # last-used times are coarse, to keep reads cheap

EVENT_TEXT = {
    "setup_token_issued": "{actor} issued a one-time sign-in token for you",
    "setup_token_used": "the one-time sign-in token from {actor} was used to sign in",
    "token_exchanged": "the one-time sign-in token from {actor} was exchanged for an API token",
    "token_created": "{actor} created an API token for you",
    "token_revoked": "{actor} revoked an API token of yours",
    "session_revoked": "{actor} ended one of your sign-in sessions",
    "all_revoked": "{actor} revoked all your tokens and sign-in sessions",
}


class SetupTokenOnly(CoachError):
    """A one-time setup token was sent where a personal credential is needed."""

    code = "setup_token"

    def __init__(self) -> None:
        super().__init__("This is a one-time sign-in token: sign in with it at /login, or "
                         "exchange it for your own token at POST /api/v1/tokens/exchange.")


class SignInFailed(CoachError):
    code = "unauthorized"

    def __init__(self) -> None:
        super().__init__("That email and access token do not match, or the token was "
                         "already used, expired or revoked.")


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


hash_token = hash_secret  # the name the rest of the code and the exports know


@dataclass(frozen=True)
class Issued:
    token: str
    token_id: int
    kind: str
    expires_at: dt.datetime | None


def _principal(person: Person, private_from: dt.datetime | None, via: str) -> Principal:
    return Principal(person.id, person.name, person.email, person.role, person.department,
                     person.manager_id, private_from=private_from, via=via)


def _usable(row: ApiToken | None, now: dt.datetime) -> bool:
    if row is None or row.revoked:
        return False
    spent = row.used_at is not None or (row.expires_at is not None and row.expires_at <= now)
    return not (row.kind == "setup" and spent)


class TokenService:
    def __init__(self, db: Database, *, session_hours: int = 12):
        self.db = db
        self.session_hours = session_hours

    # -- issuing ---------------------------------------------------------------------------
    def issue_personal(self, person_id: int, label: str = "", *,
                       private_from: dt.datetime | None = None) -> Issued:
        """A token of the person's own, reading what the credential that asked for it reads."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.db.session() as s:
            if s.get(Person, person_id) is None:
                raise NotFound(f"No person {person_id}.")
            row = ApiToken(person_id=person_id, token_hash=hash_secret(token), label=label[:100],
                           kind="personal", private_from=private_from)
            s.add(row)
            s.flush()
            return Issued(token, row.id, "personal", None)

    def issue_setup(self, person_id: int, *, issued_by: int | None, label: str = "",
                    reads_history: bool = False, now: dt.datetime | None = None) -> Issued:
        """A one-time sign-in token someone issues for ``person_id``. ``issued_by`` None is
        the operator's CLI. ``reads_history`` (the CLI only: the operator can read the
        database anyway) lets it read what the person wrote before it was issued."""
        now = now or utcnow()
        token = SETUP_PREFIX + secrets.token_urlsafe(32)
        expires = now + dt.timedelta(days=SETUP_TOKEN_DAYS)
        with self.db.session() as s:
            if s.get(Person, person_id) is None:
                raise NotFound(f"No person {person_id}.")
            row = ApiToken(person_id=person_id, token_hash=hash_secret(token), label=label[:100],
                           kind="setup", issued_by_id=issued_by, created_at=now,
                           expires_at=expires, private_from=None if reads_history else now)
            s.add(row)
            s.flush()
            _event(s, person_id, issued_by, "setup_token_issued", label)
            return Issued(token, row.id, "setup", expires)

    # -- using -----------------------------------------------------------------------------
    def authenticate(self, token: str | None) -> Principal | None:
        """The person behind a Bearer token; a setup token is refused with how to use it."""
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        digest = hash_secret(token)
        now = utcnow()
        with self.db.session() as s:
            row = s.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
            if not _usable(row, now) or not hmac.compare_digest(row.token_hash, digest):
                return None
            if row.kind == "setup":
                raise SetupTokenOnly()
            if row.last_used_at is None or (now - row.last_used_at).total_seconds() > LAST_USED_GRAIN_S:
                row.last_used_at = now
            return _principal(s.get(Person, row.person_id), row.private_from, "token")

    def _redeem(self, s, email: str | None, token: str, now: dt.datetime) -> ApiToken:
        """The usable token behind ``token`` (and ``email``, when given); a setup token is
        used up here."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            raise SignInFailed()
        row = s.scalar(select(ApiToken).where(ApiToken.token_hash == hash_secret(token))
                       .with_for_update())
        if not _usable(row, now):
            raise SignInFailed()
        person = s.get(Person, row.person_id)
        if email is not None and person.email != email.strip().lower():
            raise SignInFailed()
        if row.kind == "setup":
            # Used up in the same transaction that checks it: of two racing sign-ins, one wins.
            used = s.execute(update(ApiToken).where(ApiToken.id == row.id,
                                                    ApiToken.used_at.is_(None))
                             .values(used_at=now, last_used_at=now))
            if used.rowcount != 1:
                raise SignInFailed()
        else:
            row.last_used_at = now
        return row

    def sign_in(self, email: str, token: str, *, user_agent: str = "") -> tuple[Principal, str]:
        """Start a sign-in session; returns the person and the session id for the cookie."""
        now = utcnow()
        sid = secrets.token_urlsafe(32)
        with self.db.session() as s:
            row = self._redeem(s, email, token.strip(), now)
            s.add(WebSession(sid_hash=hash_secret(sid), person_id=row.person_id, token_id=row.id,
                             private_from=row.private_from, user_agent=user_agent[:200],
                             created_at=now, last_seen_at=now,
                             expires_at=now + dt.timedelta(hours=self.session_hours)))
            if row.kind == "setup":
                _event(s, row.person_id, row.issued_by_id, "setup_token_used", row.label)
            return _principal(s.get(Person, row.person_id), row.private_from, "cookie"), sid

    def exchange(self, token: str, label: str = "api") -> tuple[Principal, Issued]:
        """Trade a one-time setup token for a personal token that reads what it read."""
        now = utcnow()
        with self.db.session() as s:
            row = self._redeem(s, None, token.strip(), now)
            if row.kind != "setup":
                raise SignInFailed()
            plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
            mine = ApiToken(person_id=row.person_id, token_hash=hash_secret(plain),
                            label=label[:100], kind="personal", private_from=row.private_from)
            s.add(mine)
            s.flush()
            _event(s, row.person_id, row.issued_by_id, "token_exchanged", row.label)
            person = s.get(Person, row.person_id)
            return _principal(person, row.private_from, "token"), Issued(plain, mine.id,
                                                                         "personal", None)

    def session_principal(self, sid: str, person_id: int) -> Principal | None:
        """The person of a live sign-in session, or None once it has ended."""
        now = utcnow()
        with self.db.session() as s:
            row = s.scalar(select(WebSession).where(WebSession.sid_hash == hash_secret(sid)))
            if row is None or row.revoked or row.expires_at <= now or row.person_id != person_id:
                return None
            if (now - row.last_seen_at).total_seconds() > LAST_USED_GRAIN_S:
                row.last_seen_at = now
            return _principal(s.get(Person, row.person_id), row.private_from, "cookie")

    def session_id_of(self, sid: str) -> int | None:
        with self.db.session() as s:
            return s.scalar(select(WebSession.id).where(WebSession.sid_hash == hash_secret(sid)))

    def end_session(self, sid: str) -> None:
        """Logout: the session is over on the server, whatever the browser keeps."""
        with self.db.session() as s:
            s.execute(update(WebSession).where(WebSession.sid_hash == hash_secret(sid))
                      .values(revoked=True))

    # -- listing and revoking ----------------------------------------------------------------
    def credentials(self, person_id: int, *, current_sid: str | None = None) -> dict[str, Any]:
        """The person's tokens, live sessions and credential events (no secrets)."""
        now = utcnow()
        current = hash_secret(current_sid) if current_sid else None
        with self.db.session() as s:
            if s.get(Person, person_id) is None:
                raise NotFound(f"No person {person_id}.")
            names = dict(s.execute(select(Person.id, Person.name)).all())
            tokens = [{
                "id": t.id, "label": t.label, "kind": t.kind,
                "issued_by": _actor(names, t.issued_by_id, t.kind),
                "created_at": t.created_at, "last_used_at": t.last_used_at,
                "expires_at": t.expires_at, "used_at": t.used_at,
                "reads_from": t.private_from, "active": _usable(t, now),
            } for t in s.scalars(select(ApiToken).where(ApiToken.person_id == person_id)
                                 .order_by(ApiToken.id.desc()))]
            sessions = [{
                "id": w.id, "created_at": w.created_at, "last_seen_at": w.last_seen_at,
                "expires_at": w.expires_at, "user_agent": w.user_agent, "token_id": w.token_id,
                "reads_from": w.private_from, "current": w.sid_hash == current,
            } for w in s.scalars(select(WebSession).where(
                WebSession.person_id == person_id, WebSession.revoked.is_(False),
                WebSession.expires_at > now).order_by(WebSession.id.desc()))]
            events = [_event_out(e, names) for e in s.scalars(
                select(CredentialEvent).where(CredentialEvent.person_id == person_id)
                .order_by(CredentialEvent.id.desc()).limit(100))]
            return {"tokens": tokens, "sessions": sessions, "events": events}

    def unseen_events(self, person_id: int) -> list[dict[str, Any]]:
        """What others did to this person's credentials that the person has not yet seen."""
        with self.db.session() as s:
            names = dict(s.execute(select(Person.id, Person.name)).all())
            rows = s.scalars(select(CredentialEvent).where(
                CredentialEvent.person_id == person_id, CredentialEvent.seen_at.is_(None),
                (CredentialEvent.actor_id.is_(None)) | (CredentialEvent.actor_id != person_id))
                .order_by(CredentialEvent.id))
            return [_event_out(e, names) for e in rows]

    def acknowledge_events(self, person_id: int) -> int:
        with self.db.session() as s:
            return s.execute(update(CredentialEvent).where(
                CredentialEvent.person_id == person_id, CredentialEvent.seen_at.is_(None))
                .values(seen_at=utcnow())).rowcount

    def revoke_token(self, person_id: int, token_id: int, *, actor_id: int | None) -> None:
        with self.db.session() as s:
            row = s.get(ApiToken, token_id)
            if row is None or row.person_id != person_id:
                raise NotFound(f"Person {person_id} has no token {token_id}.")
            row.revoked = True
            s.execute(update(WebSession).where(WebSession.token_id == token_id)
                      .values(revoked=True))
            _event(s, person_id, actor_id, "token_revoked", row.label)

    def revoke_session(self, person_id: int, session_id: int, *, actor_id: int | None) -> None:
        with self.db.session() as s:
            row = s.get(WebSession, session_id)
            if row is None or row.person_id != person_id:
                raise NotFound(f"Person {person_id} has no sign-in session {session_id}.")
            row.revoked = True
            _event(s, person_id, actor_id, "session_revoked", "")

    def revoke_all(self, person_id: int, *, actor_id: int | None = None) -> int:
        """Every token and sign-in session of the person; returns how many tokens."""
        with self.db.session() as s:
            if s.get(Person, person_id) is None:
                raise NotFound(f"No person {person_id}.")
            count = s.execute(update(ApiToken).where(ApiToken.person_id == person_id,
                                                     ApiToken.revoked.is_(False))
                              .values(revoked=True)).rowcount
            s.execute(update(WebSession).where(WebSession.person_id == person_id)
                      .values(revoked=True))
            _event(s, person_id, actor_id, "all_revoked", "")
            return count


def _actor(names: dict[int, str], actor_id: int | None, kind: str = "setup") -> str:
    if actor_id is not None:
        return names.get(actor_id, "a former admin")
    return "the programme's operator" if kind == "setup" else "you"


def _event(s, person_id: int, actor_id: int | None, kind: str, detail: str) -> None:
    s.add(CredentialEvent(person_id=person_id, actor_id=actor_id, kind=kind,
                          detail=(detail or "")[:300]))


def _event_out(e: CredentialEvent, names: dict[int, str]) -> dict[str, Any]:
    actor = "you" if e.actor_id == e.person_id else _actor(names, e.actor_id)
    text = EVENT_TEXT.get(e.kind, e.kind).format(actor=actor)
    return {"id": e.id, "kind": e.kind, "text": text[:1].upper() + text[1:],
            "actor_id": e.actor_id, "created_at": e.created_at, "seen": e.seen_at is not None}


class SignInThrottle:
    """Sign-in attempts counted in the database, so every worker shares one count: at most
    ``limit`` attempts per address, and ``limit`` failures per email, in ``window_s``."""

    KEEP = dt.timedelta(days=1)

    def __init__(self, db: Database, limit: int, window_s: float = 60.0):
        self.db, self.limit, self.window_s = db, limit, window_s

    def check(self, address: str, email: str) -> int:
        """Seconds to wait before another attempt, or 0 when one is allowed now."""
        now = utcnow()
        since = now - dt.timedelta(seconds=self.window_s)
        keys = {f"addr:{address}": False, f"email:{email.strip().lower()[:320]}": True}
        wait = 0
        with self.db.session() as s:
            for key, failures_only in keys.items():
                q = select(func.count(), func.min(SignInAttempt.at)).where(
                    SignInAttempt.key == key, SignInAttempt.at > since)
                if failures_only:
                    q = q.where(SignInAttempt.ok.is_(False))
                count, oldest = s.execute(q).one()
                if count >= self.limit and oldest is not None:
                    left = self.window_s - (now - oldest).total_seconds()
                    wait = max(wait, int(left) + 1)
        return wait

    def record(self, address: str, email: str, ok: bool) -> None:
        now = utcnow()
        with self.db.session() as s:
            s.add(SignInAttempt(key=f"addr:{address}", ok=ok, at=now))
            s.add(SignInAttempt(key=f"email:{email.strip().lower()[:320]}", ok=ok, at=now))
            s.execute(delete(SignInAttempt).where(SignInAttempt.at < now - self.KEEP))


def person_label(person: PersonRecord) -> str:
    return f"{person.name} <{person.email}>"
