"""Dependency aliases for the routes: the container, the signed-in person, their role."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.errors import ApiError
from api.security import COOKIE, SessionSigner
from coach.container import Container
from coach.records import PersonRecord
from coach.services.auth import TokenService

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def get_container(request: Request) -> Container:
    return request.app.state.container


def get_signer(request: Request) -> SessionSigner:
    return request.app.state.signer


def get_tokens(request: Request) -> TokenService:
    return request.app.state.tokens


ContainerDep = Annotated[Container, Depends(get_container)]
SignerDep = Annotated[SessionSigner, Depends(get_signer)]
TokensDep = Annotated[TokenService, Depends(get_tokens)]


def authenticate(request: Request) -> tuple[PersonRecord | None, str]:
    """(person, how): by Bearer token, trusted proxy header (opt-in) or session cookie."""
    container: Container = request.app.state.container
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "Use 'Authorization: Bearer TOKEN'.",
                           {"WWW-Authenticate": "Bearer"})
        person = request.app.state.tokens.authenticate(token.strip())
        if person is None:
            raise ApiError(401, "unauthorized", "The token is unknown or revoked.",
                           {"WWW-Authenticate": "Bearer"})
        return person, "token"
    settings = container.settings
    if settings.auth_trusted_header:
        client = request.client.host if request.client else ""
        email = request.headers.get(settings.auth_trusted_header)
        if email and client in settings.auth_trusted_proxies:
            try:
                return container.store.get_person(email.strip().lower()), "header"
            except Exception:
                raise ApiError(401, "unauthorized", f"No person with email {email!r}.") from None
    session = request.app.state.signer.read(request.cookies.get(COOKIE))
    if session is not None:
        try:
            person = container.store.get_person(session.person_id)
        except Exception:
            return None, ""
        request.state.web_session = session
        return person, "cookie"
    return None, ""


def current_user(request: Request) -> PersonRecord:
    person, how = authenticate(request)
    if person is None:
        raise ApiError(401, "unauthorized", "Sign in, or send 'Authorization: Bearer TOKEN'.",
                       {"WWW-Authenticate": "Bearer"})
    if how == "cookie" and request.method not in SAFE_METHODS:
        signer: SessionSigner = request.app.state.signer
        if not signer.csrf_ok(request.state.web_session, request.headers.get("x-csrf-token")):
            raise ApiError(403, "csrf", "Missing or wrong CSRF token; reload the page.")
    return person


CurrentUser = Annotated[PersonRecord, Depends(current_user)]


def require_roles(*roles: str):
    def check(user: CurrentUser) -> PersonRecord:
        if user.role not in roles:
            raise ApiError(403, "forbidden",
                           f"This needs the {' or '.join(roles)} role; you are a {user.role}.")
        return user

    return Depends(check)


Coordinator = Annotated[PersonRecord, require_roles("coordinator", "admin")]
Admin = Annotated[PersonRecord, require_roles("admin")]
