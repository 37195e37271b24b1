"""Dependency aliases for the API and the pages: the container, the signed-in person, their role."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Request

from api.errors import ApiError, SignInRequired
from api.routes.common import member_pair, visible_pair
from api.security import COOKIE, SessionSigner, client_address, in_networks
from coach.container import Container
from coach.domain.errors import NotFound
from coach.domain.records import PairRecord, Principal
from coach.domain.vocabulary import STAFF_ROLES
from coach.store.credentials import SetupTokenOnly, SignInThrottle, TokenService

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def get_container(request: Request) -> Container:
    return request.app.state.container


def get_signer(request: Request) -> SessionSigner:
    return request.app.state.signer


def get_tokens(request: Request) -> TokenService:
    return request.app.state.tokens


def get_throttle(request: Request) -> SignInThrottle:
    return request.app.state.throttle


def get_address(request: Request) -> str:
    return client_address(request, request.app.state.container.settings.trusted_proxies)


ContainerDep = Annotated[Container, Depends(get_container)]
SignerDep = Annotated[SessionSigner, Depends(get_signer)]
TokensDep = Annotated[TokenService, Depends(get_tokens)]
ThrottleDep = Annotated[SignInThrottle, Depends(get_throttle)]
AddressDep = Annotated[str, Depends(get_address)]


def authenticate(request: Request) -> Principal | None:
    """By Bearer token, trusted proxy header (opt-in) or sign-in session cookie."""
    container: Container = request.app.state.container
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "Use 'Authorization: Bearer TOKEN'.",
                           {"WWW-Authenticate": "Bearer"})
        try:
            person = request.app.state.tokens.authenticate(token.strip())
        except SetupTokenOnly as exc:
            raise ApiError(401, exc.code, exc.message, {"WWW-Authenticate": "Bearer"}) from None
        if person is None:
            raise ApiError(401, "unauthorized", "The token is unknown, expired or revoked.",
                           {"WWW-Authenticate": "Bearer"})
        return person
    settings = container.settings
    if settings.auth_trusted_header and settings.trusted_proxies:
        email = request.headers.get(settings.auth_trusted_header)
        peer = request.client.host if request.client else ""
        if email and in_networks(peer, settings.trusted_proxies):
            try:
                p = container.store.get_person(email.strip().lower())
            except NotFound:
                raise ApiError(401, "unauthorized", f"No person with email {email!r}.") from None
            return Principal(p.id, p.name, p.email, p.role, p.department, p.manager_id,
                             via="header")
    session = request.app.state.signer.read(request.cookies.get(COOKIE))
    if session is not None:
        person = request.app.state.tokens.session_principal(session.sid, session.person_id)
        if person is not None:
            request.state.web_session = session
            return person
    return None


def current_user(request: Request) -> Principal:
    person = authenticate(request)
    if person is None:
        raise ApiError(401, "unauthorized", "Sign in, or send 'Authorization: Bearer TOKEN'.",
                       {"WWW-Authenticate": "Bearer"})
    if person.via == "cookie" and request.method not in SAFE_METHODS:
        signer: SessionSigner = request.app.state.signer
        if not signer.csrf_ok(request.state.web_session, request.headers.get("x-csrf-token")):
            raise ApiError(403, "csrf", "Missing or wrong CSRF token; reload the page.")
    return person


CurrentUser = Annotated[Principal, Depends(current_user)]


def require_roles(*roles: str):
    def check(user: CurrentUser) -> Principal:
        if user.role not in roles:
            raise ApiError(403, "forbidden",
                           f"This needs the {' or '.join(roles)} role; you are a {user.role}.")
        return user

    return Depends(check)


Coordinator = Annotated[Principal, require_roles(*STAFF_ROLES)]
Admin = Annotated[Principal, require_roles("admin")]


# -- pages ------------------------------------------------------------------------------------
def page_user(request: Request) -> Principal:
    """The signed-in person, or the sign-in page (api.web turns SignInRequired into a redirect)."""
    person = authenticate(request)
    if person is None:
        raise SignInRequired()
    request.state.page_user = person  # for the page error handler's header
    return person


PageUser = Annotated[Principal, Depends(page_user)]


def check_csrf(request: Request, token: str | None) -> None:
    if getattr(request.state, "web_session", None) is None:
        return  # token and SSO-header requests carry no ambient credentials
    if not request.app.state.signer.csrf_ok(request.state.web_session, token):
        raise ApiError(403, "csrf", "The form expired or came from elsewhere. Reload the page.")


def form_user(request: Request, user: PageUser, csrf_token: Annotated[str, Form()] = "") -> Principal:
    """The person posting a page's form, which must carry the CSRF token of their session."""
    check_csrf(request, csrf_token)
    return user


FormUser = Annotated[Principal, Depends(form_user)]


def page_pair(purpose: str | None = None, *, allow_admin: bool = True):
    """The pair named in the path, if ``user`` may see it (purpose None) or, as a member, do
    ``purpose`` with it."""
    def load(container: ContainerDep, user: PageUser, pair_id: int) -> PairRecord:
        if purpose is None:
            return visible_pair(container, user, pair_id)
        return member_pair(container, user, pair_id, purpose, allow_admin=allow_admin)

    return Depends(load)
