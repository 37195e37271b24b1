"""The app factory: dependencies come in, so tests build the real app with fakes bound."""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.middleware.base import BaseHTTPMiddleware

import coach
from api import errors, web
from api.errors import error_body
from api.routes import health, knowledge, pairs, people
from api.security import SessionSigner
from coach.container import Container
from coach.settings import Settings
from coach.store.credentials import SignInThrottle

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Sent when session cookies are Secure, i.e. the coach is served over HTTPS: browsers then
# refuse plain HTTP to it for a year, so the cookie cannot be stripped by a downgrade.
HSTS = "max-age=31536000; includeSubDomains"


class LimitsAndHeaders(BaseHTTPMiddleware):
    """Refuses oversized bodies before they are read, and sets security headers."""

    def __init__(self, app, settings: Settings):
        super().__init__(app)
        self.settings = settings

    async def dispatch(self, request: Request, call_next):
        started = time.perf_counter()
        response = self.refused(request) or await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        if self.settings.cookie_secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        if request.url.path.startswith("/api/") or request.url.path == "/login":
            response.headers.setdefault("Cache-Control", "no-store")
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response

    def refused(self, request: Request) -> JSONResponse | None:
        """The answer to a body that is too large or of unknown length, before it is read."""
        limit = self.settings.max_request_bytes
        if request.url.path.endswith("/knowledge/documents") or request.url.path == "/knowledge":
            limit = self.settings.max_upload_bytes + 65_536
        length = request.headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                return JSONResponse(error_body("invalid_input", "Bad Content-Length."), 400)
            if int(length) > limit:
                return JSONResponse(error_body("too_large", f"The request body is over {limit:,} "
                                               "bytes."), status_code=413)
        elif request.method in ("POST", "PUT", "PATCH") and \
                request.headers.get("transfer-encoding", "").lower() == "chunked":
            return JSONResponse(error_body("length_required", "Send a Content-Length."), 411)
        return None


def create_app(container: Container | None = None, settings: Settings | None = None) -> FastAPI:
    settings = settings or (container.settings if container else Settings())
    container = container or Container(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        # Each served process ingests uploads in its own background thread (coach.ingest.jobs).
        container.ingest_runner.start()
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(container.ingest_runner.stop)

    app = FastAPI(
        lifespan=lifespan,
        title="Reverse-mentoring session coach",
        version=coach.__version__,
        description="Agendas, topic suggestions, reflection summaries, a prep chat and pair "
                    "health for reverse-mentoring programmes. Authenticate with "
                    "`Authorization: Bearer TOKEN` (see `coach users add`). Errors are "
                    "`{\"error\": {\"code\", \"message\"}}`; lists are paginated with "
                    "`limit` and `offset`.",
    )
    app.state.container = container
    app.state.signer = SessionSigner(settings.resolved_secret_key(), settings.session_hours * 3600)
    app.state.tokens = container.tokens
    app.state.throttle = SignInThrottle(container.db, settings.signin_attempts_per_minute)
    app.add_middleware(LimitsAndHeaders, settings=settings)
    errors.install(app)

    @app.get("/healthz", tags=["service"], summary="Liveness")
    def healthz() -> dict:
        return {"status": "ok", "version": coach.__version__}

    for module in (people, pairs, health, knowledge):
        app.include_router(module.router, prefix="/api/v1")
    web.install(app)
    return app


def warm_up(container: Container) -> None:
    """Warm a worker before it serves. Failures are logged, not fatal: requests that need a
    missing backend then answer 503 with the reason."""
    import os

    log = logging.getLogger("uvicorn.error")
    try:
        took = container.warm_up()
    except Exception as exc:
        log.warning("Worker %s warm-up incomplete: %s: %s", os.getpid(),
                    exc.__class__.__name__, exc)
        return
    log.info("Worker %s warmed up in %.1f s", os.getpid(), took)
