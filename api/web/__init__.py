"""Server-rendered pages (Jinja2), one router per feature over the API's services and
dependencies. JavaScript only for streaming chat, agenda progress and charts."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from api.errors import SignInRequired
from api.web import account, dashboard, knowledge, pairs, people, signin
from api.web.rendering import HERE


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    for module in (signin, pairs, dashboard, knowledge, account, people):
        app.include_router(module.router)

    @app.exception_handler(SignInRequired)
    async def to_login(request: Request, _exc: SignInRequired):
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
