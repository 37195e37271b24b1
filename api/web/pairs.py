"""A pair's pages: its overview, the mentor's session prep and the mentee's reflections."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import ContainerDep, FormUser, PageUser, page_pair
from api.web.rendering import page_router, render
from coach.domain.access import (
    is_member,
    own_reflection,
    reflection_view,
    sees_programme,
    visible_action_item,
    visible_action_items,
)
from coach.domain.errors import CoachError
from coach.domain.records import PairRecord, Principal, SessionRecord
from coach.domain.views import timeline
from coach.domain.vocabulary import SessionStatus

router = page_router()

VisiblePair = Annotated[PairRecord, page_pair()]
ActionItemsOf = Annotated[PairRecord, page_pair("change its action items")]
PreparedPair = Annotated[PairRecord, page_pair("prepare its sessions", allow_admin=False)]
ReflectedPair = Annotated[PairRecord, page_pair("write its reflections", allow_admin=False)]

OWN_REFLECTIONS_SHOWN = 5


@router.get("/pairs", response_class=HTMLResponse)
def pairs_page(request: Request, user: PageUser, container: ContainerDep):
    mine = None if sees_programme(user) else user.id
    return render(request, "pairs.html", user, pairs=container.store.list_pairs(person_id=mine))


@router.get("/pairs/{pair_id}", response_class=HTMLResponse)
def pair_page(request: Request, user: PageUser, pair: VisiblePair, container: ContainerDep):
    health = container.monitor.health(pair_id=pair.id)[0]
    return render(request, "pair.html", user, pair=pair, timeline=timeline(pair, user), health=health,
                  member=is_member(user, pair), items=visible_action_items(user, pair))


@router.post("/pairs/{pair_id}/action-items/{item_id}")
def toggle_action(user: FormUser, pair: ActionItemsOf, container: ContainerDep, item_id: int,
                  done: str = Form(default="")):
    visible_action_item(user, pair, item_id)
    container.store.set_action_done(pair.id, item_id, done == "1")
    return RedirectResponse(f"/pairs/{pair.id}#actions", status_code=303)


# -- the mentor's session prep ---------------------------------------------------------------------
@router.get("/pairs/{pair_id}/prep", response_class=HTMLResponse)
def prep_page(request: Request, user: PageUser, pair: PreparedPair, container: ContainerDep):
    topics = container.features().topics(pair.id, 3)
    saved = container.store.next_session(pair.id)  # the session an agenda is saved on
    minutes = container.store.get_programme(pair.programme_id).default_session_minutes
    history = container.store.chat_history(pair.id, user.id, limit=20, since=user.private_from)
    return render(request, "prep.html", user, pair=pair, agenda=saved.agenda if saved else None,
                  topics=topics, minutes=minutes, history=history)


@router.post("/pairs/{pair_id}/prep", response_class=HTMLResponse)
def prep_generate(_user: FormUser, pair: PreparedPair, container: ContainerDep,
                  minutes: int = Form(ge=1, le=1000), lead: str = Form(default="", max_length=100)):
    """The no-JavaScript path: generate, then show the prep page."""
    container.features().agenda(pair.id, minutes, lead=lead or None)
    return RedirectResponse(f"/pairs/{pair.id}/prep#agenda", status_code=303)


# -- the mentee's reflections -----------------------------------------------------------------------
@router.get("/pairs/{pair_id}/reflect", response_class=HTMLResponse)
def reflect_page(request: Request, user: PageUser, pair: ReflectedPair):
    return render(request, "reflect.html", user, pair=pair, held=held_sessions(pair),
                  mine=own_views(user, pair), result=None, text="", error=None)


@router.post("/pairs/{pair_id}/reflect", response_class=HTMLResponse)
def reflect_submit(request: Request, user: FormUser, pair: ReflectedPair, container: ContainerDep,
                   text: str = Form(max_length=25_000), session_id: int | None = Form(default=None),
                   visibility: str = Form(default="private")):
    held = held_sessions(pair)
    try:
        result = container.features().reflect(pair.id, session_id, user.id, text,
                                              visibility=visibility)
    except CoachError as exc:  # the form again, with what they wrote: nothing is lost
        return render(request, "reflect.html", user, http_status=422, pair=pair, held=held,
                      mine=[], result=None, text=text, error=exc.message)
    return render(request, "reflect.html", user, pair=pair, held=held, mine=[], result=result,
                  text="", error=None)


@router.post("/pairs/{pair_id}/reflections/{reflection_id}")
def reflection_update(user: FormUser, pair: ReflectedPair, container: ContainerDep,
                      reflection_id: int,
                      summary: str = Form(default="", max_length=2000),
                      visibility: str | None = Form(default=None),
                      item_text: list[str] = Form(default=[]),
                      item_owner: list[str] = Form(default=[]),
                      item_due: list[str] = Form(default=[]),
                      blocker: list[str] = Form(default=[]),
                      sentiment: str | None = Form(default=None),
                      corrections: str = Form(default=""),
                      confirm: str = Form(default="")):
    before = own_reflection(user, pair, reflection_id).summary or {}
    edited = summary.strip() and summary.strip() != before.get("summary")
    items = blockers = said = None
    if corrections == "1":  # the form carried the item and blocker editors
        items = [{"text": t, "owner": o, "due": d or None}
                 for t, o, d in zip(item_text, item_owner, item_due) if t.strip()]
        if same_items(items, before.get("action_items", [])):
            items = None
        blockers = [b for b in blocker if b.strip()]
        if blockers == list(before.get("blockers", [])):
            blockers = None
        said = sentiment if sentiment and sentiment != before.get("sentiment") else None
    container.writes.update_reflection(
        pair.id, reflection_id, visibility=visibility or None, confirmed=confirm == "1" or None,
        summary_text=summary if edited else None, action_items=items, blockers=blockers,
        sentiment=said, reader=container.reader)
    return RedirectResponse(f"/pairs/{pair.id}/reflect#saved", status_code=303)


@router.post("/pairs/{pair_id}/reflections/{reflection_id}/delete")
def reflection_delete(user: FormUser, pair: ReflectedPair, container: ContainerDep,
                      reflection_id: int):
    own_reflection(user, pair, reflection_id)
    container.writes.delete_reflection(pair.id, reflection_id)
    return RedirectResponse(f"/pairs/{pair.id}/reflect#saved", status_code=303)


def same_items(edited: list[dict], stored: list[dict]) -> bool:
    def key(item: dict) -> tuple:
        return item.get("text", "").strip(), item.get("owner"), item.get("due") or None

    return [key(i) for i in edited] == [key(i) for i in stored]


def held_sessions(pair: PairRecord) -> list[SessionRecord]:
    return [s for s in pair.sessions if s.status == SessionStatus.held]


def own_views(user: Principal, pair: PairRecord) -> list[dict[str, Any]]:
    """The author's latest reflections, as their credential may see them."""
    views = [reflection_view(user, pair, r) for r in pair.reflections if r.author_id == user.id]
    return views[::-1][:OWN_REFLECTIONS_SHOWN]
