from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from api.deps import Admin, ContainerDep, Coordinator, CurrentUser
from api.errors import ApiError
from api.routes.common import ERRORS, Id, PagingDep, member_pair, visible_pair
from api.schemas import (
    ActionItem,
    ActionItemCreate,
    ActionItemUpdate,
    AgendaRequest,
    ChatMessage,
    ChatRequest,
    Goal,
    GoalCreate,
    GoalUpdate,
    Page,
    Pair,
    PairCreate,
    PairCreated,
    PairHealth,
    PairRow,
    PairUpdate,
    PublicSummary,
    Reflection,
    ReflectionCreate,
    ReflectionUpdate,
    SessionCreate,
    SessionOut,
    SessionUpdate,
)
from coach.domain import views
from coach.domain.access import (
    own_reflection,
    reflection_view,
    sees_programme,
    shared_summary,
    visible_action_item,
    visible_action_items,
    visible_reflection,
)
from coach.domain.views import pair_row, pair_view, session_view
from coach.features.chat import MAX_MESSAGE_CHARS
from coach.features.results import Agenda, ReflectionResult, Topics

router = APIRouter(tags=["pairs"], responses=ERRORS)


# -- pairs --------------------------------------------------------------------------------
@router.get("/pairs", response_model=Page[PairRow],
            summary="Pairs you can see: your own, or all for coordinators and admins")
def list_pairs(user: CurrentUser, container: ContainerDep, paging: PagingDep,
               status: Literal["active", "paused", "closed"] | None = None):
    mine = None if sees_programme(user) else user.id
    return paging.page([pair_row(p) for p in container.store.list_pairs(status=status, person_id=mine)])


@router.post("/pairs", response_model=PairCreated, status_code=201,
             summary="Pair a mentor with a mentee (the programme's pairing rules apply)")
def create_pair(body: PairCreate, _: Admin, container: ContainerDep):
    created = container.writes.add_pair(body.mentor, body.mentee, body.focus, goals=body.goals,
                                   cadence_days=body.cadence_days, starts_on=body.starts_on,
                                   ends_on=body.ends_on)
    return {"pair": pair_view(created.pair), "warnings": created.warnings}


@router.get("/pairs/{pair_id}", response_model=Pair)
def get_pair(pair_id: Id, user: CurrentUser, container: ContainerDep):
    return pair_view(visible_pair(container, user, pair_id))


@router.patch("/pairs/{pair_id}", response_model=Pair, summary="Pause, resume or close a pair")
def update_pair(pair_id: Id, body: PairUpdate, _: Admin, container: ContainerDep):
    return pair_view(container.store.set_pair_status(pair_id, body.status))


@router.delete("/pairs/{pair_id}", status_code=204, response_class=Response)
def delete_pair(pair_id: Id, _: Admin, container: ContainerDep):
    container.writes.delete_pair(pair_id)
    return Response(status_code=204)


# -- goals ----------------------------------------------------------------------------------
@router.post("/pairs/{pair_id}/goals", response_model=Goal, status_code=201)
def add_goal(pair_id: Id, body: GoalCreate, user: CurrentUser, container: ContainerDep):
    member_pair(container, user, pair_id, "change its goals")
    return container.writes.add_goal(pair_id, body.text, body.status).to_dict()


@router.patch("/pairs/{pair_id}/goals/{goal_id}", response_model=Goal)
def update_goal(pair_id: Id, goal_id: Id, body: GoalUpdate, user: CurrentUser, container: ContainerDep):
    member_pair(container, user, pair_id, "change its goals")
    return container.writes.update_goal(pair_id, goal_id, status=body.status, text=body.text).to_dict()


# -- sessions -------------------------------------------------------------------------------
@router.get("/pairs/{pair_id}/sessions", response_model=Page[SessionOut])
def list_sessions(pair_id: Id, user: CurrentUser, container: ContainerDep, paging: PagingDep):
    return paging.page([session_view(s) for s in visible_pair(container, user, pair_id).sessions])


@router.post("/pairs/{pair_id}/sessions", response_model=SessionOut, status_code=201,
             summary="Log a held, cancelled or missed session, or schedule one")
def log_session(pair_id: Id, body: SessionCreate, user: CurrentUser, container: ContainerDep):
    member_pair(container, user, pair_id, "log its sessions")
    return session_view(container.store.log_session(pair_id, body.date, body.status, minutes=body.minutes,
                                           notes=body.notes))


@router.patch("/pairs/{pair_id}/sessions/{session_id}", response_model=SessionOut)
def update_session(pair_id: Id, session_id: Id, body: SessionUpdate, user: CurrentUser,
                   container: ContainerDep):
    member_pair(container, user, pair_id, "change its sessions")
    return session_view(container.store.update_session(pair_id, session_id, status=body.status,
                                              date=body.date, minutes=body.minutes))


# -- action items ---------------------------------------------------------------------------
@router.get("/pairs/{pair_id}/action-items", response_model=Page[ActionItem])
def list_actions(pair_id: Id, user: CurrentUser, container: ContainerDep, paging: PagingDep,
                 open_only: bool = False):
    items = visible_action_items(user, visible_pair(container, user, pair_id))
    return paging.page([a.to_dict() for a in items if not (open_only and a.done)])


@router.post("/pairs/{pair_id}/action-items", response_model=ActionItem, status_code=201)
def add_action(pair_id: Id, body: ActionItemCreate, user: CurrentUser, container: ContainerDep):
    member_pair(container, user, pair_id, "add action items")
    return container.store.add_action_item(pair_id, body.text, body.owner, due=body.due).to_dict()


@router.patch("/pairs/{pair_id}/action-items/{item_id}", response_model=ActionItem,
              summary="Tick an action item off (or reopen it)")
def update_action(pair_id: Id, item_id: Id, body: ActionItemUpdate, user: CurrentUser,
                  container: ContainerDep):
    visible_action_item(user, member_pair(container, user, pair_id, "change its action items"), item_id)
    return container.store.set_action_done(pair_id, item_id, body.done).to_dict()


# -- reflections ------------------------------------------------------------------------------
@router.get("/pairs/{pair_id}/reflections", response_model=Page[Reflection],
            summary="Reflections as you may see them: raw text never for coordinators")
def list_reflections(pair_id: Id, user: CurrentUser, container: ContainerDep, paging: PagingDep):
    pair = visible_pair(container, user, pair_id)
    views = [reflection_view(user, pair, r) for r in pair.reflections]
    return paging.page([v for v in views if v is not None])


@router.post("/pairs/{pair_id}/reflections", response_model=ReflectionResult, status_code=201,
             summary="Submit a reflection; returns its summary and the action items recorded")
def submit_reflection(pair_id: Id, body: ReflectionCreate, user: CurrentUser, container: ContainerDep):
    member_pair(container, user, pair_id, "write its reflections", allow_admin=False)
    return container.features().reflect(pair_id, body.session_id, user.id, body.text,
                             visibility=body.visibility)


@router.get("/pairs/{pair_id}/reflections/{reflection_id}", response_model=Reflection)
def get_reflection(pair_id: Id, reflection_id: Id, user: CurrentUser, container: ContainerDep):
    return visible_reflection(user, visible_pair(container, user, pair_id), reflection_id)


@router.patch("/pairs/{pair_id}/reflections/{reflection_id}", response_model=Reflection,
              summary="The author edits the summary, confirms it, or changes who sees it")
def update_reflection(pair_id: Id, reflection_id: Id, body: ReflectionUpdate,
                      user: CurrentUser, container: ContainerDep):
    own_reflection(user, visible_pair(container, user, pair_id), reflection_id)
    items = None if body.action_items is None else [i.model_dump(mode="json")
                                                    for i in body.action_items]
    updated = container.writes.update_reflection(
        pair_id, reflection_id, visibility=body.visibility, confirmed=body.confirmed,
        summary_text=body.summary, action_items=items, blockers=body.blockers,
        sentiment=body.sentiment, reader=container.reader)
    return reflection_view(user, container.store.get_pair(pair_id), updated)


@router.delete("/pairs/{pair_id}/reflections/{reflection_id}", status_code=204,
               response_class=Response,
               summary="The author deletes their reflection and everything found in it")
def delete_reflection(pair_id: Id, reflection_id: Id, user: CurrentUser, container: ContainerDep):
    own_reflection(user, visible_pair(container, user, pair_id), reflection_id)
    container.writes.delete_reflection(pair_id, reflection_id)
    return Response(status_code=204)


@router.get("/summaries", response_model=Page[PublicSummary],
            summary="Summaries their authors shared with the programme and confirmed (no raw text)")
def list_summaries(_: Coordinator, container: ContainerDep, paging: PagingDep, pair_id: Id | None = None):
    out = []
    for pair in container.store.all_pair_records():
        if pair_id is not None and pair.id != pair_id:
            continue
        for session in pair.sessions:
            for r in session.reflections:
                if r.shared_with_programme and r.summary:
                    out.append({"pair_id": pair.id, "reflection_id": r.id,
                                "session_date": session.date, "author_role": r.author_role,
                                "summary": shared_summary(r.summary)})
    out.sort(key=lambda x: (x["session_date"], x["reflection_id"]), reverse=True)
    return paging.page(out)


# -- the coach --------------------------------------------------------------------------------
@router.post("/pairs/{pair_id}/agenda", response_model=Agenda,
             summary="Prepare a timed agenda for the pair's next session (saved on it)")
def make_agenda(pair_id: Id, user: CurrentUser, container: ContainerDep, body: AgendaRequest | None = None):
    member_pair(container, user, pair_id, "prepare its agenda", allow_admin=False)
    body = body or AgendaRequest()
    return container.features().agenda(pair_id, body.minutes, save=body.save, lead=body.lead)


@router.get("/pairs/{pair_id}/agenda", response_model=Agenda,
            summary="The agenda saved on the pair's next scheduled session (the pair's own)")
def get_agenda(pair_id: Id, user: CurrentUser, container: ContainerDep):
    member_pair(container, user, pair_id, "read its agenda", allow_admin=False)
    session = container.store.next_session(pair_id)
    if session is None or not session.agenda:
        raise ApiError(404, "not_found", f"Pair {pair_id} has no saved agenda for its next "
                       "session. POST to create one.")
    return {**session.agenda, "session_id": session.id}


@router.get("/pairs/{pair_id}/topics", response_model=Topics,
            summary="Topic suggestions that fit the focus and goals and are new to the pair")
def topics(pair_id: Id, user: CurrentUser, container: ContainerDep,
           k: Annotated[int, Query(ge=1, le=10, description="How many topics")] = 3):
    visible_pair(container, user, pair_id)
    return container.features().topics(pair_id, k)


@router.get("/pairs/{pair_id}/health", response_model=PairHealth)
def pair_health(pair_id: Id, user: CurrentUser, container: ContainerDep):
    visible_pair(container, user, pair_id)
    return container.monitor.health(pair_id=pair_id)[0].to_dict()


@router.get("/pairs/{pair_id}/timeline",
            summary="Sessions, and the reflections and action items you may see")
def timeline(pair_id: Id, user: CurrentUser, container: ContainerDep, paging: PagingDep) -> dict:
    return paging.page(views.timeline(visible_pair(container, user, pair_id), user))


def _sse(event: str, data) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


@router.post("/pairs/{pair_id}/chat", summary="Ask the coach; the checked answer streams as "
             "server-sent events: checking (the model is at work), token (checked text, never "
             "taken back: the tokens add up to the answer), done (answer, citations, "
             "provenance), error",
             responses={200: {"content": {"text/event-stream": {}}}})
def chat(pair_id: Id, body: ChatRequest, user: CurrentUser, container: ContainerDep):
    member_pair(container, user, pair_id, "use its chat", allow_admin=False)
    if len(body.message) > MAX_MESSAGE_CHARS:
        raise ApiError(422, "invalid_input", f"Messages are limited to {MAX_MESSAGE_CHARS} characters.")
    events = container.features().chat(pair_id, user.id, body.message, since=user.private_from)
    # surface input errors as a normal error response, before streaming; the first event is
    # "checking" when a model will answer, so the page can say so at once
    first = next(events)

    def stream():
        try:
            yield _sse(first.type, first.data)
            for event in events:
                yield _sse(event.type, event.data)
        except Exception as exc:  # the stream has started: report in-band
            yield _sse("error", {"code": getattr(exc, "code", "error"), "message": str(exc)})

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/pairs/{pair_id}/chat", response_model=Page[ChatMessage],
            summary="Your chat history with the coach about this pair")
def chat_history(pair_id: Id, user: CurrentUser, container: ContainerDep, paging: PagingDep):
    member_pair(container, user, pair_id, "read its chat", allow_admin=False)
    return paging.page(container.store.chat_history(pair_id, user.id, limit=1000, since=user.private_from))
