"""Pages for sign-in credentials: your own account, and people for admins.

A person sees and ends their own tokens and sessions, and what others did to them. An admin
sees and ends anyone's, issues one-time sign-in tokens (recorded, and shown to the person),
and deletes or anonymises people. Nothing here shows anything a person wrote.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.web.pages import check_csrf, page_error, page_user, render
from coach.domain.access import Forbidden
from coach.domain.errors import CoachError
from coach.operations.backup import export_person

router = APIRouter(include_in_schema=False)


def _tokens(request: Request):
    return request.app.state.tokens


def _container(request: Request):
    return request.app.state.container


def _current_sid(request: Request) -> str | None:
    session = getattr(request.state, "web_session", None)
    return session.sid if session else None


def _account(request: Request, user, *, new_token: str | None = None, http_status: int = 200):
    creds = _tokens(request).credentials(user.id, current_sid=_current_sid(request))
    return render(request, "account.html", user, http_status=http_status, creds=creds,
                  new_token=new_token)


@router.get("/account", response_class=HTMLResponse)
def account(request: Request):
    return _account(request, page_user(request))


@router.post("/account/tokens", response_class=HTMLResponse)
def account_new_token(request: Request, label: str = Form(default="api", max_length=100),
                      csrf_token: str = Form(default="")):
    user = page_user(request)
    check_csrf(request, csrf_token)
    issued = _tokens(request).issue_personal(user.id, label or "api",
                                             private_from=user.private_from)
    return _account(request, user, new_token=issued.token, http_status=201)


@router.post("/account/tokens/{token_id}/revoke")
def account_revoke_token(request: Request, token_id: int, csrf_token: str = Form(default="")):
    user = page_user(request)
    check_csrf(request, csrf_token)
    try:
        _tokens(request).revoke_token(user.id, token_id, actor_id=user.id)
    except CoachError as exc:
        return page_error(request, user, exc)
    return RedirectResponse("/account#tokens", status_code=303)


@router.post("/account/sessions/{session_id}/revoke")
def account_revoke_session(request: Request, session_id: int, csrf_token: str = Form(default="")):
    user = page_user(request)
    check_csrf(request, csrf_token)
    try:
        _tokens(request).revoke_session(user.id, session_id, actor_id=user.id)
    except CoachError as exc:
        return page_error(request, user, exc)
    return RedirectResponse("/account#sessions", status_code=303)


@router.post("/account/notices/seen")
def account_notices_seen(request: Request, csrf_token: str = Form(default="")):
    user = page_user(request)
    check_csrf(request, csrf_token)
    _tokens(request).acknowledge_events(user.id)
    return RedirectResponse("/account#events", status_code=303)


@router.get("/account/export")
def account_export(request: Request):
    user = page_user(request)
    data = export_person(_container(request).store, _tokens(request), user)
    return Response(json.dumps(data, ensure_ascii=False, indent=1),
                    media_type="application/json",
                    headers={"Content-Disposition": 'attachment; filename="my-coach-data.json"'})


# -- people, for admins ----------------------------------------------------------------------
def _admin(request: Request):
    user = page_user(request)
    if user.role != "admin":
        raise _NotAdmin(user)
    return user


class _NotAdmin(Exception):
    def __init__(self, user):
        self.user = user


def _admin_only(handler):
    """Pages of people are for admins; everyone else gets the same 403 page."""
    from functools import wraps

    @wraps(handler)
    def wrapper(request: Request, *args, **kwargs):
        try:
            return handler(request, *args, **kwargs)
        except _NotAdmin as exc:
            return page_error(request, exc.user, Forbidden("Only admins manage people."))
        except CoachError as exc:
            return page_error(request, page_user(request), exc)

    return wrapper


def _person_page(request: Request, user, person_id: int, *, issued=None, notice: str = "",
                 http_status: int = 200):
    container = _container(request)
    person = container.store.get_person(person_id)
    creds = _tokens(request).credentials(person_id)
    return render(request, "person.html", user, http_status=http_status, person=person,
                  creds=creds, issued=issued, notice=notice,
                  pairs=container.store.pairs_of(person_id))


@router.get("/people", response_class=HTMLResponse)
@_admin_only
def people(request: Request):
    user = _admin(request)
    return render(request, "people.html", user, people=_container(request).store.list_people())


@router.get("/people/{person_id}", response_class=HTMLResponse)
@_admin_only
def person(request: Request, person_id: int):
    return _person_page(request, _admin(request), person_id)


@router.post("/people/{person_id}/setup-token", response_class=HTMLResponse)
@_admin_only
def person_setup_token(request: Request, person_id: int, csrf_token: str = Form(default="")):
    user = _admin(request)
    check_csrf(request, csrf_token)
    _container(request).store.get_person(person_id)
    issued = _tokens(request).issue_setup(person_id, issued_by=user.id, label="issued by admin")
    return _person_page(request, user, person_id, issued=issued, http_status=201)


@router.post("/people/{person_id}/tokens/{token_id}/revoke")
@_admin_only
def person_revoke_token(request: Request, person_id: int, token_id: int,
                        csrf_token: str = Form(default="")):
    user = _admin(request)
    check_csrf(request, csrf_token)
    _tokens(request).revoke_token(person_id, token_id, actor_id=user.id)
    return RedirectResponse(f"/people/{person_id}#tokens", status_code=303)


@router.post("/people/{person_id}/sessions/{session_id}/revoke")
@_admin_only
def person_revoke_session(request: Request, person_id: int, session_id: int,
                          csrf_token: str = Form(default="")):
    user = _admin(request)
    check_csrf(request, csrf_token)
    _tokens(request).revoke_session(person_id, session_id, actor_id=user.id)
    return RedirectResponse(f"/people/{person_id}#sessions", status_code=303)


@router.post("/people/{person_id}/revoke-all")
@_admin_only
def person_revoke_all(request: Request, person_id: int, csrf_token: str = Form(default="")):
    user = _admin(request)
    check_csrf(request, csrf_token)
    _tokens(request).revoke_all(person_id, actor_id=user.id)
    return RedirectResponse(f"/people/{person_id}#tokens", status_code=303)


def _removal(request: Request, person_id: int, confirm: str, csrf_token: str, word: str,
             act, then: str):
    """Anonymise or delete: typed confirmation, and never oneself."""
    user = _admin(request)
    check_csrf(request, csrf_token)
    if person_id == user.id:
        raise CoachError(f"You cannot {word} yourself; ask another admin.")
    if confirm != word:
        return _person_page(request, user, person_id, http_status=422,
                            notice=f"Type {word} to confirm.")
    act(person_id)
    return RedirectResponse(then, status_code=303)


@router.post("/people/{person_id}/anonymise", response_class=HTMLResponse)
@_admin_only
def person_anonymise(request: Request, person_id: int, confirm: str = Form(default=""),
                     csrf_token: str = Form(default="")):
    return _removal(request, person_id, confirm, csrf_token, "anonymise",
                    _container(request).programme.anonymise_person, f"/people/{person_id}")


@router.post("/people/{person_id}/delete", response_class=HTMLResponse)
@_admin_only
def person_delete(request: Request, person_id: int, confirm: str = Form(default=""),
                  csrf_token: str = Form(default="")):
    return _removal(request, person_id, confirm, csrf_token, "delete",
                    _container(request).programme.delete_person, "/people")
