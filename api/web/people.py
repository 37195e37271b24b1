"""People, for admins: anyone's tokens and sessions, one-time sign-in tokens (recorded, and
shown to the person), and deleting or anonymising someone. Nothing here shows what anyone wrote."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import ContainerDep, FormUser, PageUser, TokensDep
from api.web.rendering import page_router, render
from coach.container import Container
from coach.domain.access import Forbidden
from coach.domain.errors import CoachError
from coach.domain.records import Principal
from coach.domain.vocabulary import Role
from coach.store.credentials import TokenService

router = page_router()


def admin_page(user: PageUser) -> Principal:
    if user.role != Role.admin:
        raise Forbidden("Only admins manage people.")
    return user


AdminPage = Annotated[Principal, Depends(admin_page)]


def admin_form(user: AdminPage, _form: FormUser) -> Principal:
    """An admin posting a form: the role is checked first, then the form's CSRF token."""
    return user


AdminForm = Annotated[Principal, Depends(admin_form)]


def person_page(request: Request, container: Container, tokens: TokenService, user: Principal,
                person_id: int, *, issued=None, notice: str = "", http_status: int = 200):
    person = container.store.get_person(person_id)
    return render(request, "person.html", user, http_status=http_status, person=person,
                  creds=tokens.credentials(person_id), issued=issued, notice=notice,
                  pairs=container.store.pairs_of(person_id))


@router.get("/people", response_class=HTMLResponse)
def people(request: Request, user: AdminPage, container: ContainerDep):
    return render(request, "people.html", user, people=container.store.list_people())


@router.get("/people/{person_id}", response_class=HTMLResponse)
def person(request: Request, user: AdminPage, container: ContainerDep, tokens: TokensDep,
           person_id: int):
    return person_page(request, container, tokens, user, person_id)


@router.post("/people/{person_id}/setup-token", response_class=HTMLResponse)
def person_setup_token(request: Request, user: AdminForm, container: ContainerDep,
                       tokens: TokensDep, person_id: int):
    container.store.get_person(person_id)
    issued = tokens.issue_setup(person_id, issued_by=user.id, label="issued by admin")
    return person_page(request, container, tokens, user, person_id, issued=issued, http_status=201)


@router.post("/people/{person_id}/tokens/{token_id}/revoke")
def person_revoke_token(user: AdminForm, tokens: TokensDep, person_id: int, token_id: int):
    tokens.revoke_token(person_id, token_id, actor_id=user.id)
    return RedirectResponse(f"/people/{person_id}#tokens", status_code=303)


@router.post("/people/{person_id}/sessions/{session_id}/revoke")
def person_revoke_session(user: AdminForm, tokens: TokensDep, person_id: int, session_id: int):
    tokens.revoke_session(person_id, session_id, actor_id=user.id)
    return RedirectResponse(f"/people/{person_id}#sessions", status_code=303)


@router.post("/people/{person_id}/revoke-all")
def person_revoke_all(user: AdminForm, tokens: TokensDep, person_id: int):
    tokens.revoke_all(person_id, actor_id=user.id)
    return RedirectResponse(f"/people/{person_id}#tokens", status_code=303)


@router.post("/people/{person_id}/anonymise", response_class=HTMLResponse)
def person_anonymise(request: Request, user: AdminForm, container: ContainerDep,
                     tokens: TokensDep, person_id: int, confirm: str = Form(default="")):
    return removal(request, container, tokens, user, person_id, confirm, "anonymise",
                   container.writes.anonymise_person, f"/people/{person_id}")


@router.post("/people/{person_id}/delete", response_class=HTMLResponse)
def person_delete(request: Request, user: AdminForm, container: ContainerDep, tokens: TokensDep,
                  person_id: int, confirm: str = Form(default="")):
    return removal(request, container, tokens, user, person_id, confirm, "delete",
                   container.writes.delete_person, "/people")


def removal(request: Request, container: Container, tokens: TokenService, user: Principal,
            person_id: int, confirm: str, word: str, act: Callable[[int], object], then: str):
    """Anonymise or delete: typed confirmation, and never oneself."""
    if person_id == user.id:
        raise CoachError(f"You cannot {word} yourself; ask another admin.")
    if confirm != word:
        return person_page(request, container, tokens, user, person_id, http_status=422,
                           notice=f"Type {word} to confirm.")
    act(person_id)
    return RedirectResponse(then, status_code=303)
