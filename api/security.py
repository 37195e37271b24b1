"""Session cookies, CSRF tokens (signed-in and at sign-in) and the client's address."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass

from fastapi import Request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

COOKIE = "coach_session"
LOGIN_COOKIE = "coach_login"  # a nonce that ties the sign-in form to the browser that loaded it


@dataclass(frozen=True)
class WebSession:
    person_id: int
    sid: str


class SessionSigner:
    """Signs the cookie that carries a sign-in session's id. The session itself lives in the
    database (coach.store.credentials), so a valid signature alone never signs anyone in."""

    def __init__(self, secret: str, max_age_s: int):
        self._serializer = URLSafeTimedSerializer(secret, salt="coach-session")
        self._secret = secret.encode()
        self.max_age_s = max_age_s

    def cookie(self, person_id: int, sid: str) -> str:
        return self._serializer.dumps({"pid": person_id, "sid": sid})

    def read(self, cookie: str | None) -> WebSession | None:
        if not cookie or len(cookie) > 1000:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age_s)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("pid"), int) \
                or not isinstance(data.get("sid"), str):
            return None
        return WebSession(data["pid"], data["sid"])

    def _mac(self, purpose: str, value: str) -> str:
        return hmac.new(self._secret, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()

    def csrf_token(self, session: WebSession) -> str:
        """Bound to the signed-in session, so a token from another session is useless."""
        return self._mac("csrf", session.sid)

    def csrf_ok(self, session: WebSession, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(session), str(token))

    @staticmethod
    def login_nonce() -> str:
        return secrets.token_urlsafe(24)

    def login_csrf(self, nonce: str) -> str:
        """The sign-in form's token: only a page that set this browser's nonce knows it."""
        return self._mac("login", nonce)

    def login_csrf_ok(self, nonce: str | None, token: str | None) -> bool:
        return bool(nonce) and bool(token) and hmac.compare_digest(self.login_csrf(nonce),
                                                                    str(token))


def client_address(request: Request, trusted_proxies: list[str]) -> str:
    """The client's address. X-Forwarded-For is believed only from a proxy the operator
    listed (none by default), and then only its last hop that is not itself a trusted proxy."""
    peer = request.client.host if request.client else ""
    if not trusted_proxies or not in_networks(peer, trusted_proxies):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not in_networks(hop, trusted_proxies):
            return hop
    return peer


def in_networks(address: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address in networks  # test clients and unix sockets have names, not addresses
    for net in networks:
        try:
            if ip in ipaddress.ip_network(net, strict=False):
                return True
        except ValueError:
            continue
    return False


def same_origin(request: Request) -> bool:
    """False when the browser says the request came from another site (Origin or Referer)."""
    origin = request.headers.get("origin") or ""
    if not origin or origin == "null":
        referer = request.headers.get("referer") or ""
        if not referer:
            return origin != "null"
        origin = "/".join(referer.split("/")[:3])
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1].rstrip("/") == host
