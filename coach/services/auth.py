"""Personal access tokens, stored as SHA-256 hashes; the plain token is shown once."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select

from coach.errors import NotFound
from coach.records import PersonRecord
from coach.store.db import Database
from coach.store.models import ApiToken, Person, utcnow

TOKEN_PREFIX = "rmc_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenService:
    def __init__(self, db: Database):
        self.db = db

    def create(self, person_id: int, label: str = "") -> str:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.db.session() as s:
            if s.get(Person, person_id) is None:
                raise NotFound(f"No person {person_id}.")
            s.add(ApiToken(person_id=person_id, token_hash=hash_token(token), label=label[:100]))
        return token

    def authenticate(self, token: str | None) -> PersonRecord | None:
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        digest = hash_token(token)
        with self.db.session() as s:
            row = s.scalar(select(ApiToken).where(ApiToken.token_hash == digest,
                                                  ApiToken.revoked.is_(False)))
            if row is None or not hmac.compare_digest(row.token_hash, digest):
                return None
            now = utcnow()
            if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
                row.last_used_at = now  # coarse, to keep reads cheap
            person = s.get(Person, row.person_id)
            return PersonRecord(person.id, person.name, person.email, person.role,
                                person.department, person.manager_id)

    def revoke_all(self, person_id: int) -> int:
        with self.db.session() as s:
            rows = list(s.scalars(select(ApiToken).where(ApiToken.person_id == person_id,
                                                         ApiToken.revoked.is_(False))))
            for row in rows:
                row.revoked = True
            return len(rows)
