"""Server-rendered pages (Jinja2). JavaScript only for streaming chat, agenda progress, charts."""

from __future__ import annotations

import csv
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

from api.deps import authenticate
from api.errors import ApiError, status_for
from api.security import COOKIE
from coach.errors import CoachError
from coach.records import PersonRecord
from coach.services.access import (Forbidden, Hidden, is_member, reflection_view,
                                   require_member, require_view_pair)
from coach.services.agenda import agenda_markdown  # noqa: F401  (kept for the CLI parity)
from coach.services.health import STATUSES

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals["STATUS_LABEL"] = {"healthy": "Healthy", "at_risk": "At risk",
                                         "stalled": "Stalled"}


PAGE_SIZE = 100  # dashboard rows per page, riskiest first
JOBS_SHOWN = 10  # the latest ingestion jobs on the knowledge page


class SignInRequired(Exception):
    pass


def page_user(request: Request) -> PersonRecord:
    person, how = authenticate(request)
    if person is None:
        raise SignInRequired()
    request.state.auth_how = how
    return person


def csrf_for(request: Request) -> str:
    session = getattr(request.state, "web_session", None)
    return request.app.state.signer.csrf_token(session) if session else ""


def check_csrf(request: Request, token: str | None) -> None:
    if getattr(request.state, "auth_how", "") != "cookie":
        return  # token and SSO-header requests carry no ambient credentials
    if not request.app.state.signer.csrf_ok(request.state.web_session, token):
        raise ApiError(403, "csrf", "The form expired or came from elsewhere. Reload the page.")


def render(request: Request, name: str, user: PersonRecord | None, http_status: int = 200,
           **context: Any) -> HTMLResponse:
    context.update(request=request, user=user, csrf=csrf_for(request) if user else "")
    return templates.TemplateResponse(request, name, context, status_code=http_status)


def safe_next(value: str | None) -> str:
    if not value:
        return "/"
    parsed = urlparse(value)
    if parsed.scheme or parsed.netloc or not value.startswith("/") or value.startswith("//"):
        return "/"
    return value


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    container = app.state.container

    @app.exception_handler(SignInRequired)
    async def to_login(request: Request, _exc: SignInRequired):
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)

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

    # -- sign in ------------------------------------------------------------------------
    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request, next: str = "/"):
        return render(request, "login.html", None, next=safe_next(next), error=None)

    @app.post("/login", response_class=HTMLResponse, include_in_schema=False)
    def login(request: Request, email: str = Form(max_length=320), token: str = Form(max_length=300),
              next: str = Form(default="/", max_length=500)):
        client = request.client.host if request.client else "?"
        allowed, retry = request.app.state.signin_limiter.allow(f"{client}|{email.strip().lower()}")
        if not allowed:
            resp = render(request, "login.html", None, http_status=429, next=safe_next(next),
                          error=f"Too many attempts. Try again in {retry} seconds.")
            resp.headers["Retry-After"] = str(retry)
            return resp
        person = request.app.state.tokens.authenticate(token.strip())
        if person is None or person.email != email.strip().lower():
            return render(request, "login.html", None, http_status=401, next=safe_next(next),
                          error="That email and access token do not match.")
        cookie, _session = request.app.state.signer.issue(person.id)
        resp = RedirectResponse(safe_next(next), status_code=303)
        resp.set_cookie(COOKIE, cookie, max_age=container.settings.session_hours * 3600,
                        httponly=True, secure=container.settings.cookie_secure, samesite="lax",
                        path="/")
        return resp

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, csrf_token: str = Form(default="")):
        page_user(request)
        check_csrf(request, csrf_token)
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(COOKIE, path="/")
        return resp

    # -- home ---------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def home(request: Request):
        user = page_user(request)
        if user.role in ("coordinator", "admin"):
            return RedirectResponse("/dashboard", status_code=303)
        pairs = container.store.list_pairs(person_id=user.id)
        if len(pairs) == 1:
            target = "prep" if user.role == "mentor" else "reflect"
            return RedirectResponse(f"/pairs/{pairs[0].id}/{target}", status_code=303)
        return RedirectResponse("/pairs", status_code=303)

    @app.get("/pairs", response_class=HTMLResponse, include_in_schema=False)
    def pairs_page(request: Request):
        user = page_user(request)
        mine = None if user.role in ("coordinator", "admin") else user.id
        return render(request, "pairs.html", user, pairs=container.store.list_pairs(person_id=mine))

    # -- pair page ------------------------------------------------------------------------
    @app.get("/pairs/{pair_id}", response_class=HTMLResponse, include_in_schema=False)
    def pair_page(request: Request, pair_id: int):
        user = page_user(request)
        try:
            pair = container.store.get_pair(pair_id)
            require_view_pair(user, pair)
        except CoachError as exc:
            return page_error(request, user, exc)
        timeline = container.monitor.timeline(pair_id)
        health = container.monitor.health(pair_id=pair_id)[0]
        return render(request, "pair.html", user, pair=pair, timeline=timeline, health=health,
                      member=is_member(user, pair))

    @app.post("/pairs/{pair_id}/action-items/{item_id}", include_in_schema=False)
    def toggle_action(request: Request, pair_id: int, item_id: int,
                      done: str = Form(default=""), csrf_token: str = Form(default="")):
        user = page_user(request)
        check_csrf(request, csrf_token)
        try:
            pair = container.store.get_pair(pair_id)
            require_member(user, pair, "change its action items")
            container.store.set_action_done(pair_id, item_id, done == "1")
        except CoachError as exc:
            return page_error(request, user, exc)
        return RedirectResponse(f"/pairs/{pair_id}#actions", status_code=303)

    # -- mentor session prep --------------------------------------------------------------------
    @app.get("/pairs/{pair_id}/prep", response_class=HTMLResponse, include_in_schema=False)
    def prep_page(request: Request, pair_id: int):
        user = page_user(request)
        try:
            pair = container.store.get_pair(pair_id)
            require_member(user, pair, "prepare its sessions")
            topics = container.coach().topics(pair_id, 3)
        except CoachError as exc:
            return page_error(request, user, exc)
        saved = next((s for s in pair.sessions if s.status == "scheduled" and s.agenda), None)
        minutes = container.store.get_programme(pair.programme_id).default_session_minutes
        history = container.store.chat_history(pair_id, user.id, limit=20)
        return render(request, "prep.html", user, pair=pair, agenda=saved.agenda if saved else None,
                      topics=topics, minutes=minutes, history=history)

    @app.post("/pairs/{pair_id}/prep", response_class=HTMLResponse, include_in_schema=False)
    def prep_generate(request: Request, pair_id: int, minutes: int = Form(ge=1, le=1000),
                      csrf_token: str = Form(default="")):
        """The no-JavaScript path: generate, then show the prep page."""
        user = page_user(request)
        check_csrf(request, csrf_token)
        try:
            pair = container.store.get_pair(pair_id)
            require_member(user, pair, "prepare its sessions")
            container.coach().agenda(pair_id, minutes)
        except CoachError as exc:
            return page_error(request, user, exc)
        return RedirectResponse(f"/pairs/{pair_id}/prep#agenda", status_code=303)

    # -- mentee reflection ---------------------------------------------------------------------
    @app.get("/pairs/{pair_id}/reflect", response_class=HTMLResponse, include_in_schema=False)
    def reflect_page(request: Request, pair_id: int):
        user = page_user(request)
        try:
            pair = container.store.get_pair(pair_id)
            require_member(user, pair, "write its reflections", allow_admin=False)
        except CoachError as exc:
            return page_error(request, user, exc)
        mine = [reflection_view(user, pair, r) for r in pair.reflections if r.author_id == user.id]
        held = [s for s in pair.sessions if s.status == "held"]
        return render(request, "reflect.html", user, pair=pair, held=held, mine=mine[::-1][:5],
                      result=None, text="", error=None)

    @app.post("/pairs/{pair_id}/reflect", response_class=HTMLResponse, include_in_schema=False)
    def reflect_submit(request: Request, pair_id: int, text: str = Form(max_length=25_000),
                       session_id: int | None = Form(default=None),
                       private: str = Form(default=""), csrf_token: str = Form(default="")):
        user = page_user(request)
        check_csrf(request, csrf_token)
        try:
            pair = container.store.get_pair(pair_id)
            require_member(user, pair, "write its reflections", allow_admin=False)
        except CoachError as exc:
            return page_error(request, user, exc)
        held = [s for s in pair.sessions if s.status == "held"]
        try:
            result = container.coach().reflect(pair_id, session_id, user.id, text,
                                               private=private == "1")
        except CoachError as exc:
            return render(request, "reflect.html", user, http_status=422, pair=pair, held=held, mine=[],
                          result=None, text=text, error=exc.message)
        return render(request, "reflect.html", user, pair=pair, held=held, mine=[],
                      result=result, text="", error=None)

    @app.post("/pairs/{pair_id}/reflections/{reflection_id}", include_in_schema=False)
    def reflection_update(request: Request, pair_id: int, reflection_id: int,
                          summary: str = Form(default="", max_length=2000),
                          private: str = Form(default=""), confirm: str = Form(default=""),
                          csrf_token: str = Form(default="")):
        user = page_user(request)
        check_csrf(request, csrf_token)
        try:
            pair = container.store.get_pair(pair_id)
            require_member(user, pair, "write its reflections", allow_admin=False)
            found = next((r for r in pair.reflections if r.id == reflection_id), None)
            if found is None or found.author_id != user.id:
                raise Hidden(f"No reflection {reflection_id} of yours.")
            container.store.update_reflection(
                pair_id, reflection_id, private=private == "1", confirmed=confirm == "1" or None,
                summary_text=summary if summary.strip() else None)
            container.programme.reindex(pair_id)
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
        if user.role not in ("coordinator", "admin"):
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
        if user.role not in ("coordinator", "admin"):
            return page_error(request, user, Forbidden("The dashboard is for coordinators."))
        results = [h.to_dict() for h in container.monitor.health()]
        rows = dashboard_rows(results, status if status in STATUSES else None, focus, q)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["pair_id", "mentor", "mentee", "focus", "status", "score", "reasons",
                         "suggested_actions"])
        for h, p in rows:
            writer.writerow([p["id"], p["mentor"], p["mentee"], " ".join(p["focus"]), h["status"],
                             h["score"], "; ".join(r["detail"] for r in h["reasons"]),
                             "; ".join(a["label"] for a in h["suggested_actions"])])
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


def chart(overview: dict[str, Any]) -> dict[str, Any]:
    """Bar heights for an inline SVG: sessions held and pairs at risk or stalled, per week."""
    weeks = overview["snapshots"]
    held = overview["sessions_held"]
    top = max([w["held"] for w in held] + [w["at_risk"] + w["stalled"] for w in weeks] + [1])
    bars = []
    for i, (snap, h) in enumerate(zip(weeks, held, strict=True)):
        bars.append({"x": 10 + i * 40, "held": h["held"], "risk": snap["at_risk"] + snap["stalled"],
                     "held_h": round(100 * h["held"] / top), "risk_h": round(100 * (snap["at_risk"] + snap["stalled"]) / top),
                     "label": snap["week_of"][5:], "healthy": snap["healthy"],
                     "at_risk": snap["at_risk"], "stalled": snap["stalled"]})
    return {"bars": bars, "width": 20 + 40 * len(bars), "top": top}
