"""Every error leaves as {"error": {"code", "message"}} with a fitting status."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from coach.domain.access import Forbidden, Hidden
from coach.domain.errors import (
    BackendUnavailable,
    CoachError,
    Conflict,
    InvalidInput,
    NotFound,
    RuleViolation,
    StoreNotInitialised,
    TooLarge,
    UnsupportedType,
)

STATUS = {
    NotFound: 404, Hidden: 404, InvalidInput: 422, RuleViolation: 422, Conflict: 409,
    Forbidden: 403, BackendUnavailable: 503, StoreNotInitialised: 503, UnsupportedType: 415,
    TooLarge: 413,
}


class ApiError(Exception):
    """Raised only at the API edge."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        self.status, self.code, self.message, self.headers = status, code, message, headers


class SignInRequired(Exception):
    """A page needs a signed-in person; the pages answer with the sign-in form."""


def error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def status_for(exc: CoachError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def install(app: FastAPI) -> None:
    @app.exception_handler(CoachError)
    async def coach_error(_request: Request, exc: CoachError):
        return JSONResponse(error_body(exc.code, exc.message), status_code=status_for(exc))

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError):
        return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status,
                            headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
        message = f"{where}: {first.get('msg', 'invalid input')}" if where else \
            str(first.get("msg", "invalid input"))
        return JSONResponse(error_body("invalid_input", message), status_code=422)

    @app.exception_handler(OverflowError)
    async def overflow(_request: Request, _exc: OverflowError):
        return JSONResponse(error_body("invalid_input", "A number is out of range."), status_code=422)

    from sqlalchemy.exc import StatementError

    @app.exception_handler(StatementError)
    async def statement_error(_request: Request, exc: StatementError):
        if isinstance(exc.orig, (OverflowError, ValueError)):
            return JSONResponse(error_body("invalid_input", "A value is out of range."), status_code=422)
        raise exc

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException):
        codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 401: "unauthorized",
                 403: "forbidden", 413: "too_large"}
        return JSONResponse(error_body(codes.get(exc.status_code, "http_error"), str(exc.detail)),
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))
