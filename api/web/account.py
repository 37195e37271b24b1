"""Your own account: the tokens and sign-in sessions you hold, what others did to them, and
a download of everything the coach keeps about you. Nothing here shows anything a person wrote."""

from __future__ import annotations

import json

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import ContainerDep, FormUser, PageUser, TokensDep
from api.web.rendering import page_router, render
from coach.domain.records import Principal
from coach.operations.backup import export_person

router = page_router()


def account_page(request: Request, tokens: TokensDep, user: Principal, *,
                 new_token: str | None = None, http_status: int = 200) -> HTMLResponse:
    session = getattr(request.state, "web_session", None)
    creds = tokens.credentials(user.id, current_sid=session.sid if session else None)
    return render(request, "account.html", user, http_status=http_status, creds=creds,
                  new_token=new_token)


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, user: PageUser, tokens: TokensDep):
    return account_page(request, tokens, user)


@router.post("/account/tokens", response_class=HTMLResponse)
def account_new_token(request: Request, user: FormUser, tokens: TokensDep,
                      label: str = Form(default="api", max_length=100)):
    issued = tokens.issue_personal(user.id, label or "api", private_from=user.private_from)
    return account_page(request, tokens, user, new_token=issued.token, http_status=201)


@router.post("/account/tokens/{token_id}/revoke")
def account_revoke_token(user: FormUser, tokens: TokensDep, token_id: int):
    tokens.revoke_token(user.id, token_id, actor_id=user.id)
    return RedirectResponse("/account#tokens", status_code=303)


@router.post("/account/sessions/{session_id}/revoke")
def account_revoke_session(user: FormUser, tokens: TokensDep, session_id: int):
    tokens.revoke_session(user.id, session_id, actor_id=user.id)
    return RedirectResponse("/account#sessions", status_code=303)


@router.post("/account/notices/seen")
def account_notices_seen(user: FormUser, tokens: TokensDep):
    tokens.acknowledge_events(user.id)
    return RedirectResponse("/account#events", status_code=303)


@router.get("/account/export")
def account_export(user: PageUser, container: ContainerDep, tokens: TokensDep):
    data = export_person(container.store, tokens, user)
    return Response(json.dumps(data, ensure_ascii=False, indent=1),
                    media_type="application/json",
                    headers={"Content-Disposition": 'attachment; filename="my-coach-data.json"'})
