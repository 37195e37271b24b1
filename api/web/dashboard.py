"""The coordinator's dashboard: every pair's health, riskiest first, and its CSV download."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from api.deps import ContainerDep, PageUser
from api.web.rendering import page_router, render
from coach.container import Container
from coach.domain.access import Forbidden, sees_programme
from coach.domain.records import Principal
from coach.domain.vocabulary import Focus
from coach.health.csv_export import write_health_csv
from coach.health.signals import STATUSES

router = page_router()

PAGE_SIZE = 100  # dashboard rows per page, riskiest first
WEEKS_SHOWN = 8
FOCUSES = tuple(f.value for f in Focus)


def require_staff(user: Principal) -> None:
    if not sees_programme(user):
        raise Forbidden("The dashboard is for coordinators.")


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, user: PageUser, container: ContainerDep, status: str | None = None,
              focus: str | None = None, q: str | None = None, page: int = 1):
    require_staff(user)
    status = status if status in STATUSES else None
    focus = focus if focus in FOCUSES else None
    overview = container.monitor.overview(weeks=WEEKS_SHOWN)
    rows = dashboard_rows(container, overview["pairs"], status, focus, q)
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(max(1, page), pages)
    shown = rows[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    return render(request, "dashboard.html", user, rows=shown, matching=len(rows), page=page,
                  pages=pages, overview=overview, counts=overview["counts"], status=status,
                  focus=focus, q=q or "", chart=chart(overview))


@router.get("/dashboard.csv")
def dashboard_csv(user: PageUser, container: ContainerDep, status: str | None = None,
                  focus: str | None = None, q: str | None = None):
    require_staff(user)
    results = [h.to_dict() for h in container.monitor.health()]
    rows = dashboard_rows(container, results, status if status in STATUSES else None, focus, q)
    buffer = io.StringIO()
    write_health_csv(buffer, rows)
    name = f"pair-health-{dt.date.today().isoformat()}.csv"
    return Response(buffer.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})



def dashboard_rows(container: Container, results: list[dict], status: str | None,
                   focus: str | None, q: str | None) -> list[tuple[dict, dict]]:
    """Each pair's health beside its labels, filtered by status, focus and a name search."""
    labels = container.store.pair_labels()
    rows = []
    for h in results:
        p = labels.get(h["pair_id"])
        if p is None:
            continue
        if status and h["status"] != status:
            continue
        if focus and focus not in p["focus"]:
            continue
        if q and q.lower() not in f"{p['mentor']} {p['mentee']}".lower():
            continue
        rows.append((h, {"id": h["pair_id"], **p}))
    return rows


def chart(overview: dict[str, Any]) -> dict[str, Any]:
    """Bar heights for an inline SVG: sessions held and pairs at risk or stalled, per week."""
    weeks = overview["snapshots"]
    held = overview["sessions_held"]
    top = max([w["held"] for w in held] + [w["at_risk"] + w["stalled"] for w in weeks] + [1])
    bars = []
    for i, (snap, h) in enumerate(zip(weeks, held, strict=True)):
        bars.append({"x": 10 + i * 40, "held": h["held"], "risk": snap["at_risk"] + snap["stalled"],
                     "held_h": round(100 * h["held"] / top),
                     "risk_h": round(100 * (snap["at_risk"] + snap["stalled"]) / top),
                     "label": snap["week_of"][5:], "healthy": snap["healthy"],
                     "at_risk": snap["at_risk"], "stalled": snap["stalled"]})
    return {"bars": bars, "width": 20 + 40 * len(bars), "top": top}
