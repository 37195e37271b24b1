"""Server-rendered pages (Jinja2). JavaScript only for streaming chat, agenda progress, charts."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

from fastapi import FastAPI, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from api.deps import authenticate, get_address
from api.errors import ApiError, status_for
from api.routes.common import load_pair
from api.security import COOKIE, LOGIN_COOKIE, same_origin
from coach.domain.access import (
    Forbidden,
    Hidden,
    is_member,
    own_reflection,
    reflection_view,
    require_member,
    require_view_pair,
    sees_programme,
    visible_action_item,
    visible_action_items,
)
from coach.domain.errors import CoachError
from coach.domain.records import PersonRecord, Principal
from coach.domain.vocabulary import SessionStatus
from coach.features.agenda import agenda_markdown  # noqa: F401  (kept for the CLI parity)
from coach.health.csv_export import write_health_csv
from coach.health.signals import STATUSES
from coach.store.credentials import SignInFailed

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals["STATUS_LABEL"] = {"healthy": "Healthy", "at_risk": "At risk",
                                         "stalled": "Stalled"}


PAGE_SIZE = 100  # dashboard rows per page, riskiest first
JOBS_SHOWN = 10  # the latest ingestion jobs on the knowledge page


class SignInRequired(Exception):
    pass


def page_user(request: Request) -> Principal:
    person = authenticate(request)
    if person is None:
        raise SignInRequired()
    return person


def csrf_for(request: Request) -> str:
    session = getattr(request.state, "web_session", None)
    return request.app.state.signer.csrf_token(session) if session else ""


def check_csrf(request: Request, token: str | None) -> None:
    if getattr(request.state, "web_session", None) is None:
        return  # token and SSO-header requests carry no ambient credentials
    if not request.app.state.signer.csrf_ok(request.state.web_session, token):
        raise ApiError(403, "csrf", "The form expired or came from elsewhere. Reload the page.")


def render(request: Request, name: str, user: PersonRecord | None, http_status: int = 200,
           **context: Any) -> HTMLResponse:
    context.update(request=request, user=user, csrf=csrf_for(request) if user else "")
    # What others did to this person's credentials stays on every page until acknowledged.
    context["credential_notices"] = (request.app.state.tokens.unseen_events(user.id)
                                     if user and user.id else [])
    return templates.TemplateResponse(request, name, context, status_code=http_status)


def login_page(request: Request, *, next: str, error: str | None,
               http_status: int = 200) -> HTMLResponse:
    """The sign-in form, with a fresh nonce cookie and the CSRF token bound to it."""
    signer = request.app.state.signer
    nonce = signer.login_nonce()
    resp = render(request, "login.html", None, http_status=http_status, next=safe_next(next),
                  error=error, login_csrf=signer.login_csrf(nonce))
    resp.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, httponly=True, samesite="strict",
                    secure=request.app.state.container.settings.cookie_secure, path="/login")
    return resp


def page_error(request: Request, user, exc: Exception) -> HTMLResponse:
    if isinstance(exc, (Hidden,)) or getattr(exc, "code", "") == "not_found":
        status, title = 404, "Not found"
    elif isinstance(exc, Forbidden):
        status, title = 403, "Not allowed"
    elif isinstance(exc, ApiError):
        status, title = exc.status, "Something is wrong"
    else:
        status, title = 422, "Please check your input"
    message = getattr(exc, "message", str(exc))
    return render(request, "error.html", user, http_status=status, title=title, message=message)


def safe_next(value: str | None) -> str:
    if not value:
        return "/"
    parsed = urlparse(value)
    if parsed.scheme or parsed.netloc or not value.startswith("/") or value.startswith("//"):
        return "/"
    return value


def install(app: FastAPI) -> None:
    from api.web import account

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(account.router)
    container = app.state.container

    @app.exception_handler(SignInRequired)
    async def to_login(request: Request, _exc: SignInRequired):
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)

    # -- sign in ------------------------------------------------------------------------
    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request, next: str = "/"):
        return login_page(request, next=next, error=None)

    @app.post("/login", response_class=HTMLResponse, include_in_schema=False)
    def login(request: Request, email: str = Form(max_length=320), token: str = Form(max_length=300),
              next: str = Form(default="/", max_length=500),
              csrf_token: str = Form(default="", max_length=200)):
        signer = request.app.state.signer
        if not same_origin(request) or \
                not signer.login_csrf_ok(request.cookies.get(LOGIN_COOKIE), csrf_token):
            # Login CSRF: only this site's own form, loaded in this browser, signs it in.
            return login_page(request, next=next, http_status=403,
                              error="The sign-in form expired or came from another site. "
                                    "Sign in again here.")
        throttle, address = request.app.state.throttle, get_address(request)
        wait = throttle.check(address, email)
        if wait:
            resp = login_page(request, next=next, http_status=429,
                              error=f"Too many attempts. Try again in {wait} seconds.")
            resp.headers["Retry-After"] = str(wait)
            return resp
        try:
            person, sid = request.app.state.tokens.sign_in(
                email, token, user_agent=request.headers.get("user-agent", ""))
        except SignInFailed as exc:
            throttle.record(address, email, ok=False)
            return login_page(request, next=next, http_status=401, error=exc.message)
        throttle.record(address, email, ok=True)
        resp = RedirectResponse(safe_next(next), status_code=303)
        resp.set_cookie(COOKIE, signer.cookie(person.id, sid),
                        max_age=container.settings.session_hours * 3600, httponly=True,
                        secure=container.settings.cookie_secure, samesite="lax", path="/")
        resp.delete_cookie(LOGIN_COOKIE, path="/login")
        return resp

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, csrf_token: str = Form(default="")):
        page_user(request)
        check_csrf(request, csrf_token)
        session = getattr(request.state, "web_session", None)
        if session is not None:
            request.app.state.tokens.end_session(session.sid)
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(COOKIE, path="/")
        return resp

    # -- home ---------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def home(request: Request):
        user = page_user(request)
        if sees_programme(user):
            return RedirectResponse("/dashboard", status_code=303)
        pairs = container.store.list_pairs(person_id=user.id)
        if len(pairs) == 1:
            target = "prep" if user.role == "mentor" else "reflect"
            return RedirectResponse(f"/pairs/{pairs[0].id}/{target}", status_code=303)
        return RedirectResponse("/pairs", status_code=303)

    @app.get("/pairs", response_class=HTMLResponse, include_in_schema=False)
    def pairs_page(request: Request):
        user = page_user(request)
        mine = None if sees_programme(user) else user.id
        return render(request, "pairs.html", user, pairs=container.store.list_pairs(person_id=mine))

    # -- pair page ------------------------------------------------------------------------
    @app.get("/pairs/{pair_id}", response_class=HTMLResponse, include_in_schema=False)
    def pair_page(request: Request, pair_id: int):
        user = page_user(request)
        try:
            pair = load_pair(container, pair_id)
            require_view_pair(user, pair)
        except CoachError as exc:
            return page_error(request, user, exc)
        timeline = container.monitor.timeline(pair, user)
        health = container.monitor.health(pair_id=pair_id)[0]
        return render(request, "pair.html", user, pair=pair, timeline=timeline, health=health,
                      member=is_member(user, pair), items=visible_action_items(user, pair))

    @app.post("/pairs/{pair_id}/action-items/{item_id}", include_in_schema=False)
    def toggle_action(request: Request, pair_id: int, item_id: int,
                      done: str = Form(default=""), csrf_token: str = Form(default="")):
        user = page_user(request)
        check_csrf(request, csrf_token)
        try:
            pair = load_pair(container, pair_id)
            require_member(user, pair, "change its action items")
            visible_action_item(user, pair, item_id)
            container.store.set_action_done(pair_id, item_id, done == "1")
        except CoachError as exc:
            return page_error(request, user, exc)
        return RedirectResponse(f"/pairs/{pair_id}#actions", status_code=303)

    # -- mentor session prep --------------------------------------------------------------------
    @app.get("/pairs/{pair_id}/prep", response_class=HTMLResponse, include_in_schema=False)
    def prep_page(request: Request, pair_id: int):
        user = page_user(request)
        try:
            pair = load_pair(container, pair_id)
            require_member(user, pair, "prepare its sessions", allow_admin=False)
            topics = container.features().topics(pair_id, 3)
        except CoachError as exc:
            return page_error(request, user, exc)
        saved = container.store.next_session(pair_id)  # the session an agenda is saved on
        minutes = container.store.get_programme(pair.programme_id).default_session_minutes
        history = container.store.chat_history(pair_id, user.id, limit=20,
                                               since=user.private_from)
        return render(request, "prep.html", user, pair=pair,
                      agenda=saved.agenda if saved else None,
                      topics=topics, minutes=minutes, history=history)

    @app.post("/pairs/{pair_id}/prep", response_class=HTMLResponse, include_in_schema=False)
    def prep_generate(request: Request, pair_id: int, minutes: int = Form(ge=1, le=1000),
                      lead: str = Form(default="", max_length=100),
                      csrf_token: str = Form(default="")):
        """The no-JavaScript path: generate, then show the prep page."""
        user = page_user(request)
        check_csrf(request, csrf_token)
        try:
            pair = load_pair(container, pair_id)
            require_member(user, pair, "prepare its sessions", allow_admin=False)
            container.features().agenda(pair_id, minutes, lead=lead or None)
        except CoachError as exc:
            return page_error(request, user, exc)
        return RedirectResponse(f"/pairs/{pair_id}/prep#agenda", status_code=303)

    # -- mentee reflection ---------------------------------------------------------------------
    @app.get("/pairs/{pair_id}/reflect", response_class=HTMLResponse, include_in_schema=False)
    def reflect_page(request: Request, pair_id: int):
        user = page_user(request)
        try:
            pair = load_pair(container, pair_id)
            require_member(user, pair, "write its reflections", allow_admin=False)
        except CoachError as exc:
            return page_error(request, user, exc)
        return render(request, "reflect.html", user, pair=pair, held=held_sessions(pair),
                      mine=own_views(user, pair), result=None, text="", error=None)

    @app.post("/pairs/{pair_id}/reflect", response_class=HTMLResponse, include_in_schema=False)
    def reflect_submit(request: Request, pair_id: int, text: str = Form(max_length=25_000),
                       session_id: int | None = Form(default=None),
                       visibility: str = Form(default="private"),
                       csrf_token: str = Form(default="")):
        user = page_user(request)
        check_csrf(request, csrf_token)
        try:
            pair = load_pair(container, pair_id)
            require_member(user, pair, "write its reflections", allow_admin=False)
        except CoachError as exc:
            return page_error(request, user, exc)
        held = held_sessions(pair)
        try:
            result = container.features().reflect(pair_id, session_id, user.id, text,
                                               visibility=visibility)
        except CoachError as exc:
            return render(request, "reflect.html", user, http_status=422, pair=pair, held=held,
                          mine=[], result=None, text=text, error=exc.message)
        return render(request, "reflect.html", user, pair=pair, held=held, mine=[],
                      result=result, text="", error=None)

    @app.post("/pairs/{pair_id}/reflections/{reflection_id}", include_in_schema=False)
    def reflection_update(request: Request, pair_id: int, reflection_id: int,
                          summary: str = Form(default="", max_length=2000),
                          visibility: str | None = Form(default=None),
                          item_text: list[str] = Form(default=[]),
                          item_owner: list[str] = Form(default=[]),
                          item_due: list[str] = Form(default=[]),
                          blocker: list[str] = Form(default=[]),
                          sentiment: str | None = Form(default=None),
                          corrections: str = Form(default=""),
                          confirm: str = Form(default=""), csrf_token: str = Form(default="")):
        user = page_user(request)
        check_csrf(request, csrf_token)
        try:
            pair = load_pair(container, pair_id)
            require_member(user, pair, "write its reflections", allow_admin=False)
            found = own_reflection(user, pair, reflection_id)
            before = found.summary or {}
            edited = summary.strip() and summary.strip() != before.get("summary")
            items = blockers = said = None
            if corrections == "1":  # the form carried the item and blocker editors
                items = [{"text": t, "owner": o, "due": d or None}
                         for t, o, d in zip(item_text, item_owner, item_due) if t.strip()]
                if _same_items(items, before.get("action_items", [])):
                    items = None
                blockers = [b for b in blocker if b.strip()]
                if blockers == list(before.get("blockers", [])):
                    blockers = None
                said = sentiment if sentiment and sentiment != before.get("sentiment") else None
            container.programme.update_reflection(
                pair_id, reflection_id, visibility=visibility or None,
                confirmed=confirm == "1" or None, summary_text=summary if edited else None,
                action_items=items, blockers=blockers, sentiment=said, reader=container.reader)
        except CoachError as exc:
            return page_error(request, user, exc)
        return RedirectResponse(f"/pairs/{pair_id}/reflect#saved", status_code=303)

    @app.post("/pairs/{pair_id}/reflections/{reflection_id}/delete", include_in_schema=False)
    def reflection_delete(request: Request, pair_id: int, reflection_id: int,
                          csrf_token: str = Form(default="")):
        user = page_user(request)
        check_csrf(request, csrf_token)
        try:
            pair = load_pair(container, pair_id)
            require_member(user, pair, "write its reflections", allow_admin=False)
            own_reflection(user, pair, reflection_id)
            container.programme.delete_reflection(pair_id, reflection_id)
        except CoachError as exc:
            return page_error(request, user, exc)
        return RedirectResponse(f"/pairs/{pair_id}/reflect#saved", status_code=303)

    # -- coordinator dashboard ---------------------------------------------------------------
    def dashboard_rows(results: list[dict], status: str | None, focus: str | None, q: str | None):
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

    @app.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
    def dashboard(request: Request, status: str | None = None, focus: str | None = None,
                  q: str | None = None, page: int = 1):
        user = page_user(request)
        if not sees_programme(user):
            return page_error(request, user, Forbidden("The dashboard is for coordinators."))
        status = status if status in STATUSES else None
        focus = focus if focus in ("technology", "generational", "inclusion") else None
        overview = container.monitor.overview(weeks=8)
        rows = dashboard_rows(overview["pairs"], status, focus, q)
        pages = max(1, -(-len(rows) // PAGE_SIZE))
        page = min(max(1, page), pages)
        shown = rows[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
        return render(request, "dashboard.html", user, rows=shown, matching=len(rows), page=page,
                      pages=pages, overview=overview, counts=overview["counts"], status=status,
                      focus=focus, q=q or "", chart=chart(overview))

    @app.get("/dashboard.csv", include_in_schema=False)
    def dashboard_csv(request: Request, status: str | None = None, focus: str | None = None,
                      q: str | None = None):
        user = page_user(request)
        if not sees_programme(user):
            return page_error(request, user, Forbidden("The dashboard is for coordinators."))
        results = [h.to_dict() for h in container.monitor.health()]
        rows = dashboard_rows(results, status if status in STATUSES else None, focus, q)
        buffer = io.StringIO()
        write_health_csv(buffer, rows)
        name = f"pair-health-{dt.date.today().isoformat()}.csv"
        return Response(buffer.getvalue(), media_type="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    # -- knowledge ------------------------------------------------------------------------------
    def knowledge_context(user: PersonRecord, job_id: int | None) -> dict[str, Any]:
        names = container.source_names
        docs = sorted((replace(d, source=names.display(d.source))
                       for d in container.manifest.all().values()),
                      key=lambda d: (d.kind, d.source))
        job, jobs = None, []
        if user.role == "admin":
            jobs = container.ingest_jobs.page(JOBS_SHOWN, 0)[0]
            if job_id is not None:
                try:
                    job = container.ingest_jobs.get(job_id)
                except CoachError:
                    job = None
        # A plain reload while a job is under way shows its progress without JavaScript.
        busy = any(j.status in ("queued", "running") for j in [job, *jobs] if j is not None)
        return {"docs": docs, "job": job, "jobs": jobs, "refresh_seconds": 2 if busy else None}

    @app.get("/knowledge", response_class=HTMLResponse, include_in_schema=False)
    def knowledge_page(request: Request, job: int | None = None):
        user = page_user(request)
        return render(request, "knowledge.html", user, error=None,
                      **knowledge_context(user, job))

    @app.post("/knowledge", response_class=HTMLResponse, include_in_schema=False)
    async def knowledge_upload(request: Request, file: UploadFile, csrf_token: str = Form(default="")):
        from api.routes.knowledge import read_upload

        user = page_user(request)
        check_csrf(request, csrf_token)
        if user.role != "admin":
            return page_error(request, user, Forbidden("Only admins upload documents."))
        try:
            data = await read_upload(container, file)
            job = await run_in_threadpool(container.ingest_jobs.submit_upload,
                                          file.filename or "", data, user.id)
        except CoachError as exc:
            context = await run_in_threadpool(knowledge_context, user, None)
            return render(request, "knowledge.html", user, http_status=status_for(exc),
                          error=exc.message, **context)
        return RedirectResponse(f"/knowledge?job={job.id}", status_code=303)


def _same_items(edited: list[dict], stored: list[dict]) -> bool:
    key = lambda i: (i.get("text", "").strip(), i.get("owner"), i.get("due") or None)  # noqa: E731
    return [key(i) for i in edited] == [key(i) for i in stored]


def held_sessions(pair) -> list:
    return [s for s in pair.sessions if s.status == SessionStatus.held]


def own_views(user: Principal, pair, limit: int = 5) -> list[dict[str, Any]]:
    """The author's latest reflections, as their credential may see them."""
    views = [reflection_view(user, pair, r) for r in pair.reflections if r.author_id == user.id]
    return views[::-1][:limit]


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
