"""Signing in and out, and the home page that sends each person where they work."""

from __future__ import annotations

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import AddressDep, ContainerDep, FormUser, PageUser, SignerDep, ThrottleDep, TokensDep
from api.security import COOKIE, LOGIN_COOKIE, same_origin
from api.web.rendering import page_router, render, safe_next
from coach.domain.access import sees_programme
from coach.store.credentials import SignInFailed

router = page_router()


def login_page(request: Request, *, next: str, error: str | None,
               http_status: int = 200) -> HTMLResponse:
    """The sign-in form, with a fresh nonce cookie and the CSRF token bound to it."""
    signer = request.app.state.signer
    nonce = signer.login_nonce()
    resp = render(request, "login.html", None, http_status=http_status, next=safe_next(next),
                  error=error, login_csrf=signer.login_csrf(nonce))
    resp.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, httponly=True, samesite="strict",
                    secure=request.app.state.container.settings.cookie_secure, path="/login")
    return resp


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/"):
    return login_page(request, next=next, error=None)


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, container: ContainerDep, signer: SignerDep, tokens: TokensDep,
          throttle: ThrottleDep, address: AddressDep,
          email: str = Form(max_length=320), token: str = Form(max_length=300),
          next: str = Form(default="/", max_length=500),
          csrf_token: str = Form(default="", max_length=200)):
    if not same_origin(request) or \
            not signer.login_csrf_ok(request.cookies.get(LOGIN_COOKIE), csrf_token):
        # Login CSRF: only this site's own form, loaded in this browser, signs it in.
        return login_page(request, next=next, http_status=403,
                          error="The sign-in form expired or came from another site. "
                                "Sign in again here.")
    wait = throttle.check(address, email)
    if wait:
        resp = login_page(request, next=next, http_status=429,
                          error=f"Too many attempts. Try again in {wait} seconds.")
        resp.headers["Retry-After"] = str(wait)
        return resp
    try:
        person, sid = tokens.sign_in(email, token, user_agent=request.headers.get("user-agent", ""))
    except SignInFailed as exc:
        throttle.record(address, email, ok=False)
        return login_page(request, next=next, http_status=401, error=exc.message)
    throttle.record(address, email, ok=True)
    resp = RedirectResponse(safe_next(next), status_code=303)
    resp.set_cookie(COOKIE, signer.cookie(person.id, sid),
                    max_age=container.settings.session_hours * 3600, httponly=True,
                    secure=container.settings.cookie_secure, samesite="lax", path="/")
    resp.delete_cookie(LOGIN_COOKIE, path="/login")
    return resp


@router.post("/logout")
def logout(request: Request, _user: FormUser, tokens: TokensDep):
    session = getattr(request.state, "web_session", None)
    if session is not None:
        tokens.end_session(session.sid)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(COOKIE, path="/")
    return resp


@router.get("/")
def home(user: PageUser, container: ContainerDep):
    if sees_programme(user):
        return RedirectResponse("/dashboard", status_code=303)
    pairs = container.store.list_pairs(person_id=user.id)
    if len(pairs) == 1:
        target = "prep" if user.role == "mentor" else "reflect"
        return RedirectResponse(f"/pairs/{pairs[0].id}/{target}", status_code=303)
    return RedirectResponse("/pairs", status_code=303)
