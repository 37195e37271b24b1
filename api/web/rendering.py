"""What every page shares: the templates, rendering, and the one page error handler."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from api.errors import ApiError
from coach.domain.access import Forbidden, Hidden
from coach.domain.errors import CoachError
from coach.domain.records import PersonRecord

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals["STATUS_LABEL"] = {"healthy": "Healthy", "at_risk": "At risk",
                                         "stalled": "Stalled"}


def csrf_for(request: Request) -> str:
    session = getattr(request.state, "web_session", None)
    return request.app.state.signer.csrf_token(session) if session else ""


def render(request: Request, name: str, user: PersonRecord | None, http_status: int = 200,
           **context: Any) -> HTMLResponse:
    context.update(request=request, user=user, csrf=csrf_for(request) if user else "")
    # What others did to this person's credentials stays on every page until acknowledged.
    context["credential_notices"] = (request.app.state.tokens.unseen_events(user.id)
                                     if user and user.id else [])
    return templates.TemplateResponse(request, name, context, status_code=http_status)


def page_error(request: Request, exc: CoachError | ApiError) -> HTMLResponse:
    """The error page: what went wrong in the coach's words, with the status the API gives."""
    if isinstance(exc, Hidden) or exc.code == "not_found":
        status, title = 404, "Not found"
    elif isinstance(exc, Forbidden):
        status, title = 403, "Not allowed"
    elif isinstance(exc, ApiError):
        status, title = exc.status, "Something is wrong"
    else:
        status, title = 422, "Please check your input"
    user = getattr(request.state, "page_user", None)
    return render(request, "error.html", user, http_status=status, title=title, message=exc.message)


class PageRoute(APIRoute):
    """A page route: a CoachError or ApiError raised by the page or its dependencies answers
    with the error page (the API's routes answer the same errors with JSON)."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except (CoachError, ApiError) as exc:
                return page_error(request, exc)

        return page_handler


def page_router() -> APIRouter:
    return APIRouter(route_class=PageRoute, include_in_schema=False)


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path on this site, never another site."""
    if not value:
        return "/"
    parsed = urlparse(value)
    if parsed.scheme or parsed.netloc or not value.startswith("/") or value.startswith("//"):
        return "/"
    return value
