from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response

from api.deps import AddressDep, Admin, ContainerDep, Coordinator, CurrentUser, ThrottleDep, TokensDep
from api.errors import ApiError
from api.routes.common import ERRORS, Id, PagingDep
from api.schemas import (
    Credentials,
    ErrorResponse,
    Exchanged,
    Page,
    Person,
    PersonCreate,
    PersonCreated,
    Programme,
    ThresholdsUpdate,
    Token,
    TokenCreate,
    TokenExchange,
)
from coach.domain.access import sees_programme
from coach.domain.records import Principal
from coach.operations.backup import export_person
from coach.store.credentials import SignInFailed

router = APIRouter(tags=["people and programmes"], responses=ERRORS)


def self_or_admin(user: Principal, person_id: int) -> None:
    """Credentials are their owner's, and an admin's to manage (never to read with)."""
    if user.id == person_id or user.role == "admin":
        return
    if user.role == "coordinator":
        raise ApiError(403, "forbidden", "Only the person and admins manage their sign-in.")
    raise ApiError(404, "not_found", f"No person {person_id} that you can see.")


@router.get("/me", response_model=Person, summary="The signed-in person")
def me(user: CurrentUser):
    return user.to_dict()


@router.get("/me/export", summary="Everything the coach holds about you, as you may read it")
def export_me(user: CurrentUser, container: ContainerDep, tokens: TokensDep) -> dict:
    return export_person(container.store, tokens, user)


@router.post("/me/notices/seen", status_code=204, response_class=Response,
             summary="Acknowledge what others did to your credentials")
def notices_seen(user: CurrentUser, tokens: TokensDep):
    tokens.acknowledge_events(user.id)
    return Response(status_code=204)


@router.get("/people", response_model=Page[Person], summary="Everyone in the programme")
def list_people(_: Coordinator, container: ContainerDep, paging: PagingDep,
                role: Literal["mentor", "mentee", "coordinator", "admin"] | None = None):
    return paging.page([p.to_dict() for p in container.store.list_people(role)])


@router.post("/people", response_model=PersonCreated, status_code=201,
             summary="Add a person and issue their one-time sign-in token")
def add_person(body: PersonCreate, user: Admin, container: ContainerDep, tokens: TokensDep):
    person = container.store.add_person(body.name, body.email, body.role, department=body.department,
                                manager=body.manager)
    issued = tokens.issue_setup(person.id, issued_by=user.id, label="first sign-in")
    return {"id": person.id, "token": issued.token, "expires_at": issued.expires_at}


@router.get("/people/{person_id}", response_model=Person)
def get_person(person_id: Id, user: CurrentUser, container: ContainerDep):
    if user.id != person_id and not sees_programme(user):
        raise ApiError(404, "not_found", f"No person {person_id} that you can see.")
    return container.store.get_person(person_id).to_dict()


@router.delete("/people/{person_id}", status_code=204, response_class=Response,
               summary="Delete a person who is in no pair, with their credentials")
def delete_person(person_id: Id, user: Admin, container: ContainerDep):
    if person_id == user.id:
        raise ApiError(422, "invalid_input", "You cannot delete yourself; ask another admin.")
    container.writes.delete_person(person_id)
    return Response(status_code=204)


@router.post("/people/{person_id}/anonymise", response_model=Person,
             summary="Remove who a person is and everything they wrote; keep their pairs' dates")
def anonymise_person(person_id: Id, user: Admin, container: ContainerDep):
    if person_id == user.id:
        raise ApiError(422, "invalid_input", "You cannot anonymise yourself; ask another admin.")
    return container.writes.anonymise_person(person_id).to_dict()


@router.post("/people/{person_id}/tokens", response_model=Token, status_code=201,
             summary="A token of your own; or, as admin, a one-time sign-in token for someone")
def new_token(person_id: Id, user: CurrentUser, tokens: TokensDep, container: ContainerDep,
              body: TokenCreate | None = None):
    label = (body or TokenCreate()).label
    if user.id == person_id:
        issued = tokens.issue_personal(person_id, label, private_from=user.private_from)
    elif user.role == "admin":
        container.store.get_person(person_id)
        issued = tokens.issue_setup(person_id, issued_by=user.id, label=label)
    else:
        raise ApiError(404, "not_found", f"No person {person_id} that you can see.")
    return {"token": issued.token, "token_id": issued.token_id, "kind": issued.kind,
            "expires_at": issued.expires_at}


@router.post("/tokens/exchange", response_model=Exchanged, status_code=201,
             summary="Trade a one-time sign-in token for a token of your own",
             responses={429: {"model": ErrorResponse, "description": "Too many attempts"}})
def exchange_token(body: TokenExchange, tokens: TokensDep, throttle: ThrottleDep,
                   address: AddressDep):
    wait = throttle.check(address, "(exchange)")
    if wait:
        raise ApiError(429, "too_many_attempts", f"Too many attempts. Try again in {wait} "
                       "seconds.", {"Retry-After": str(wait)})
    try:
        person, issued = tokens.exchange(body.token, body.label)
    except SignInFailed:
        throttle.record(address, "(exchange)", ok=False)
        raise ApiError(401, "unauthorized", "That one-time token is unknown, used, expired or "
                       "revoked. Ask an admin for a new one.") from None
    throttle.record(address, "(exchange)", ok=True)
    return {"token": issued.token, "token_id": issued.token_id, "kind": issued.kind,
            "person_id": person.id}


@router.get("/people/{person_id}/credentials", response_model=Credentials,
            summary="A person's tokens, sign-in sessions and credential events (no secrets)")
def credentials(person_id: Id, user: CurrentUser, tokens: TokensDep):
    self_or_admin(user, person_id)
    return tokens.credentials(person_id)


@router.delete("/people/{person_id}/tokens/{token_id}", status_code=204,
               response_class=Response, summary="Revoke a token, and end the sessions it began")
def revoke_token(person_id: Id, token_id: Id, user: CurrentUser, tokens: TokensDep):
    self_or_admin(user, person_id)
    tokens.revoke_token(person_id, token_id, actor_id=user.id)
    return Response(status_code=204)


@router.delete("/people/{person_id}/sessions/{session_id}", status_code=204,
               response_class=Response, summary="End a sign-in session")
def revoke_session(person_id: Id, session_id: Id, user: CurrentUser, tokens: TokensDep):
    self_or_admin(user, person_id)
    tokens.revoke_session(person_id, session_id, actor_id=user.id)
    return Response(status_code=204)


@router.delete("/people/{person_id}/credentials", status_code=204, response_class=Response,
               summary="Revoke every token and end every sign-in session of a person")
def revoke_all(person_id: Id, user: CurrentUser, tokens: TokensDep):
    self_or_admin(user, person_id)
    tokens.revoke_all(person_id, actor_id=user.id)
    return Response(status_code=204)


@router.get("/programmes", response_model=Page[Programme])
def list_programmes(_: CurrentUser, container: ContainerDep, paging: PagingDep):
    return paging.page([p.to_dict() for p in container.store.list_programmes()])


@router.get("/programmes/{programme_id}", response_model=Programme)
def get_programme(programme_id: Id, _: CurrentUser, container: ContainerDep):
    return container.store.get_programme(programme_id).to_dict()


@router.put("/programmes/{programme_id}/thresholds", response_model=Programme,
            summary="Override the programme's health thresholds")
def set_thresholds(programme_id: Id, body: ThresholdsUpdate, _: Admin, container: ContainerDep):
    return container.monitor.set_thresholds(programme_id, body.health_thresholds).to_dict()
