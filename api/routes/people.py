from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from api.deps import Admin, ContainerDep, Coordinator, CurrentUser, TokensDep
from api.errors import ApiError
from api.routes.common import Id, ERRORS, PagingDep
from api.schemas import Page, Person, PersonCreate, PersonCreated, Programme, ThresholdsUpdate, Token
from coach.services.health import HealthThresholds

router = APIRouter(tags=["people and programmes"], responses=ERRORS)


@router.get("/me", response_model=Person, summary="The signed-in person")
def me(user: CurrentUser):
    return user.to_dict()


@router.get("/people", response_model=Page[Person], summary="Everyone in the programme")
def list_people(_: Coordinator, c: ContainerDep, paging: PagingDep,
                role: Literal["mentor", "mentee", "coordinator", "admin"] | None = None):
    return paging.page([p.to_dict() for p in c.store.list_people(role)])


@router.post("/people", response_model=PersonCreated, status_code=201,
             summary="Add a person and issue their first access token")
def add_person(body: PersonCreate, _: Admin, c: ContainerDep, tokens: TokensDep):
    person = c.store.add_person(body.name, body.email, body.role, department=body.department,
                                manager=body.manager)
    return {"id": person.id, "token": tokens.create(person.id, "first token")}


@router.get("/people/{person_id}", response_model=Person)
def get_person(person_id: Id, user: CurrentUser, c: ContainerDep):
    if user.id != person_id and user.role not in ("admin", "coordinator"):
        raise ApiError(404, "not_found", f"No person {person_id}.")
    return c.store.get_person(person_id).to_dict()


@router.post("/people/{person_id}/tokens", response_model=Token, status_code=201,
             summary="Issue another access token (yourself, or anyone as admin)")
def new_token(person_id: Id, user: CurrentUser, tokens: TokensDep, c: ContainerDep):
    if user.id != person_id and user.role != "admin":
        raise ApiError(404, "not_found", f"No person {person_id}.")
    c.store.get_person(person_id)
    return {"token": tokens.create(person_id, "api")}


@router.get("/programmes", response_model=Page[Programme])
def list_programmes(_: CurrentUser, c: ContainerDep, paging: PagingDep):
    return paging.page([p.to_dict() for p in c.store.list_programmes()])


@router.get("/programmes/{programme_id}", response_model=Programme)
def get_programme(programme_id: Id, _: CurrentUser, c: ContainerDep):
    return c.store.get_programme(programme_id).to_dict()


@router.put("/programmes/{programme_id}/thresholds", response_model=Programme,
            summary="Override the programme's health thresholds")
def set_thresholds(programme_id: Id, body: ThresholdsUpdate, _: Admin, c: ContainerDep):
    checked = HealthThresholds.from_overrides(body.health_thresholds)
    clean = {k: getattr(checked, k) for k in body.health_thresholds}
    return c.store.update_programme_thresholds(programme_id, clean).to_dict()
