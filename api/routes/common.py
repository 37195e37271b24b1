"""Helpers shared by the route modules."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query

from api.schemas import ErrorResponse
from coach.container import Container
from coach.domain.access import no_pair, require_member, require_view_pair
from coach.domain.errors import NotFound
from coach.domain.records import PairRecord, PersonRecord

# Ids are database integers: anything beyond 32 bits cannot exist, so say 422, not 500.
Id = Annotated[int, Path(ge=1, le=2_147_483_647)]

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in ((401, "Not signed in"), (403, "Role not allowed"),
                       (404, "Not found, or not yours"), (413, "Request too large"),
                       (422, "Invalid input"))
}


class Paging:
    def __init__(self, limit: Annotated[int, Query(ge=1, le=200)] = 50,
                 offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0):
        self.limit, self.offset = limit, offset

    def page(self, items: list) -> dict[str, Any]:
        return {"items": items[self.offset:self.offset + self.limit], "total": len(items),
                "limit": self.limit, "offset": self.offset}


PagingDep = Annotated[Paging, Depends()]


def load_pair(container: Container, pair_id: int) -> PairRecord:
    """The pair, or the same 404 whether it does not exist or is not yours."""
    try:
        return container.store.get_pair(pair_id)
    except NotFound:
        raise no_pair(pair_id) from None


def visible_pair(container: Container, user: PersonRecord, pair_id: int) -> PairRecord:
    pair = load_pair(container, pair_id)
    require_view_pair(user, pair)
    return pair


def member_pair(container: Container, user: PersonRecord, pair_id: int, what: str, *,
                allow_admin: bool = True) -> PairRecord:
    pair = load_pair(container, pair_id)
    require_member(user, pair, what, allow_admin=allow_admin)
    return pair
