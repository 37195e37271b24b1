from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Query

from api.deps import ContainerDep, Coordinator
from api.routes.common import ERRORS, PagingDep
from api.schemas import Overview, Page, PairHealth

router = APIRouter(tags=["coordinator"], responses=ERRORS)


@router.get("/health", response_model=Page[PairHealth],
            summary="Pair health, riskiest first, with reasons and suggested coordinator actions")
def health(_: Coordinator, container: ContainerDep, paging: PagingDep,
           as_of: dt.date | None = None,
           status: str | None = Query(default=None, pattern="^(healthy|at_risk|stalled)$")):
    return paging.page([h.to_dict() for h in container.monitor.health(as_of, status=status)])


@router.get("/health/overview", response_model=Overview,
            summary="Counts by status, weekly snapshots, sessions held and changes since last week")
def overview(_: Coordinator, container: ContainerDep, as_of: dt.date | None = None,
             weeks: int = Query(default=8, ge=1, le=52)):
    return {k: v for k, v in container.monitor.overview(as_of, weeks=weeks).items() if k != "pairs"}
