"""Session cookies, CSRF tokens and a sign-in rate limit."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

COOKIE = "coach_session"


@dataclass(frozen=True)
class WebSession:
    person_id: int
    sid: str


class SessionSigner:
    def __init__(self, secret: str, max_age_s: int):
        self._serializer = URLSafeTimedSerializer(secret, salt="coach-session")
        self._secret = secret.encode()
        self.max_age_s = max_age_s

    def issue(self, person_id: int) -> tuple[str, WebSession]:
        session = WebSession(person_id, secrets.token_urlsafe(16))
        return self._serializer.dumps({"pid": person_id, "sid": session.sid}), session

    def read(self, cookie: str | None) -> WebSession | None:
        if not cookie or len(cookie) > 1000:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age_s)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("pid"), int):
            return None
        return WebSession(data["pid"], str(data.get("sid", "")))

    def csrf_token(self, session: WebSession) -> str:
        """Bound to the signed-in session, so a token from another session is useless."""
        return hmac.new(self._secret, f"csrf:{session.sid}".encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: WebSession, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(session), str(token))


class RateLimiter:
    """At most ``limit`` attempts per ``window_s`` per key, in this process."""

    def __init__(self, limit: int, window_s: float = 60.0):
        self.limit, self.window_s = limit, window_s
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, key: str) -> tuple[bool, int]:
        now = time.monotonic()
        with self._lock:
            hits = self._hits[key]
            while hits and now - hits[0] > self.window_s:
                hits.popleft()
            if len(hits) >= self.limit:
                return False, int(self.window_s - (now - hits[0])) + 1
            hits.append(now)
            return True, 0
