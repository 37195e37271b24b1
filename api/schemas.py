"""Request and response models for the OpenAPI document (with examples). What the features
answer (agendas, topics, reflection summaries) is defined once, in coach.features.results."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from coach.features.results import Focus, Visibility

T = TypeVar("T")
VISIBILITY_HELP = ("Who sees what is derived from the reflection. private: you alone (others see "
                   "that you wrote one). pair: your partner sees the summary you confirm; the "
                   "coordinator sees only labels. programme: the coordinator also sees the "
                   "summary you confirm. The raw text is only ever yours.")


class ErrorDetail(BaseModel):
    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["No pair 42. List pairs with `coach pairs list`."])


class ErrorResponse(BaseModel):
    error: ErrorDetail


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(examples=[23])
    limit: int = Field(examples=[50])
    offset: int = Field(examples=[0])


class Person(BaseModel):
    id: int
    name: str = Field(examples=["Amara Okafor"])
    email: str = Field(examples=["amara.okafor@northwind.example"])
    role: Literal["mentor", "mentee", "coordinator", "admin"]
    department: str = Field(examples=["Data Platform"])
    manager_id: int | None = None


class PersonCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, examples=["Ana Lima"])
    email: str = Field(min_length=3, max_length=320, examples=["ana.lima@example.org"])
    role: Literal["mentor", "mentee", "coordinator", "admin"]
    department: str = Field(default="", max_length=200, examples=["IT"])
    manager: int | str | None = Field(default=None, examples=[None])


class PersonCreated(BaseModel):
    id: int
    token: str = Field(examples=["rmc_setup_Xq3..."],
                       description="A one-time sign-in token for the new person: it works once, "
                       "to sign in at /login or to exchange at POST /api/v1/tokens/exchange. "
                       "Shown once; stored hashed.")
    token_kind: Literal["setup"] = "setup"
    expires_at: dt.datetime


class Token(BaseModel):
    token: str = Field(examples=["rmc_Xq3..."], description="Shown once; stored hashed.")
    token_id: int
    kind: Literal["personal", "setup"] = Field(
        description="personal: your own. setup: a one-time sign-in token issued for someone "
                    "else; it is recorded and shown to them, and it cannot read anything they "
                    "wrote before it was issued.")
    expires_at: dt.datetime | None = None


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(default="api", max_length=100, examples=["laptop script"])


class TokenExchange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=300, examples=["rmc_setup_Xq3..."])
    label: str = Field(default="api", max_length=100)


class Exchanged(Token):
    person_id: int


class TokenInfo(BaseModel):
    id: int
    label: str
    kind: Literal["personal", "setup"]
    issued_by: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    expires_at: dt.datetime | None
    used_at: dt.datetime | None
    reads_from: dt.datetime | None = Field(description="Private records written before this "
                                           "are not readable through this credential.")
    active: bool


class SessionInfo(BaseModel):
    id: int
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime
    user_agent: str
    token_id: int | None
    reads_from: dt.datetime | None
    current: bool


class CredentialEvent(BaseModel):
    id: int
    kind: str
    text: str = Field(examples=["Ada Admin issued a one-time sign-in token for you"])
    actor_id: int | None
    created_at: dt.datetime
    seen: bool


class Credentials(BaseModel):
    tokens: list[TokenInfo]
    sessions: list[SessionInfo]
    events: list[CredentialEvent]


class Programme(BaseModel):
    id: int
    name: str = Field(examples=["Northwind Reverse Mentoring Pilot"])
    objectives: str
    default_cadence_days: int = Field(examples=[14])
    default_session_minutes: int = Field(examples=[45])
    starts_on: dt.date | None
    ends_on: dt.date | None
    health_thresholds: dict[str, Any] = Field(examples=[{"gap_warn_ratio": 2.0}])


class ThresholdsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Values pass through as sent (pydantic would turn true into 1): the core checks each one.
    health_thresholds: dict[str, Any] = Field(
        examples=[{"gap_warn_ratio": 2.0}],
        description="Threshold name to number. Each threshold has a range, and warnings "
                    "come no later than alarms; a refusal (422) names the threshold and the "
                    "values it allows.",
        json_schema_extra={"additionalProperties": {"type": "number"}})


class Goal(BaseModel):
    id: int
    text: str = Field(examples=["Use a generative AI assistant to draft board updates"])
    status: Literal["open", "in_progress", "achieved", "dropped"]


class GoalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=1000)
    status: Literal["open", "in_progress", "achieved", "dropped"] = "open"


class GoalUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(default=None, min_length=1, max_length=1000)
    status: Literal["open", "in_progress", "achieved", "dropped"] | None = None


class PairRow(BaseModel):
    id: int
    mentor: str = Field(examples=["Amara Okafor"])
    mentee: str = Field(examples=["Graham Whitfield"])
    focus: list[Focus]
    cadence_days: int
    status: Literal["active", "paused", "closed"]
    starts_on: str
    sessions_held: int
    last_held: str | None
    open_action_items: int


class Pair(BaseModel):
    id: int
    programme_id: int
    mentor: Person
    mentee: Person
    focus: list[Focus]
    cadence_days: int
    starts_on: dt.date
    ends_on: dt.date | None
    status: Literal["active", "paused", "closed"]
    goals: list[Goal]


class PairCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mentor: int | str = Field(examples=[1], description="Id or email of the mentor (the junior).")
    mentee: int | str = Field(examples=[2], description="Id or email of the mentee (the senior).")
    focus: list[Focus] = Field(min_length=1, max_length=3, examples=[["technology"]])
    goals: list[str] = Field(default_factory=list, max_length=20,
                             examples=[["Use AI tools for drafting"]])
    cadence_days: int | None = Field(default=None, ge=1, le=180, examples=[14])
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None


class PairCreated(BaseModel):
    pair: Pair
    warnings: list[str] = Field(examples=[["Both are in Data. Pairing inside one department is "
                                           "allowed, but cross-department pairs learn more."]])


class PairUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["active", "paused", "closed"]


class SessionOut(BaseModel):
    id: int
    date: dt.date
    status: Literal["scheduled", "held", "cancelled", "no_show"]
    minutes: int
    has_agenda: bool
    notes: str


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date: dt.date = Field(examples=["2026-11-20"])
    status: Literal["scheduled", "held", "cancelled", "no_show"] = "held"
    minutes: int | None = Field(default=None, ge=5, le=480, examples=[45])
    notes: str = Field(default="", max_length=5000)


class SessionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date: dt.date | None = None
    status: Literal["scheduled", "held", "cancelled", "no_show"] | None = None
    minutes: int | None = Field(default=None, ge=5, le=480)


class ActionItem(BaseModel):
    id: int
    owner: Literal["mentor", "mentee"]
    text: str = Field(examples=["Try the meeting-notes assistant on two team meetings"])
    due: dt.date | None
    done: bool
    done_at: dt.date | None
    origin: str = Field(examples=["reflection"])
    reflection_id: int | None


class ActionItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=500)
    owner: Literal["mentor", "mentee"]
    due: dt.date | None = None


class ActionItemUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    done: bool


class ReflectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=20_000, examples=[
        "Amara showed me the meeting-notes assistant. I will try it on two team meetings by Friday."])
    session_id: int | None = Field(default=None, description="Default: the last held session.")
    visibility: Visibility = Field(default="private", description=VISIBILITY_HELP)


class ReflectionLabels(BaseModel):
    sentiment: Literal["positive", "neutral", "negative"] | None
    engagement: Literal["high", "medium", "low"] | None
    blocker_count: int
    action_count: int


class Reflection(BaseModel):
    id: int
    session_id: int
    author_role: Literal["mentor", "mentee"]
    visibility: Visibility
    private: bool
    created_at: str
    summary_confirmed: bool
    text: str | None = Field(description="Raw text: only ever for its author.")
    summary: dict[str, Any] | None = Field(description="The whole summary for its author; the "
                                           "confirmed summary for whoever it is shared with.")
    labels: ReflectionLabels | None = Field(description="Sentiment, engagement and counts, for "
                                            "whoever may see more than that it exists.")


class ActionItemEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=500)
    owner: Literal["mentor", "mentee"]
    due: dt.date | None = None


class ReflectionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    visibility: Visibility | None = Field(default=None, description=VISIBILITY_HELP)
    action_items: list[ActionItemEdit] | None = Field(
        default=None, max_length=20, description="The author's corrected action items (the "
        "whole list); kept as labelled examples for `coach reader retrain`.")
    blockers: list[Annotated[str, Field(min_length=1, max_length=500)]] | None = Field(
        default=None, max_length=20, description="The author's corrected blockers (the whole list).")
    sentiment: Literal["positive", "neutral", "negative"] | None = None
    confirmed: bool | None = None
    summary: str | None = Field(default=None, min_length=1, max_length=2000,
                                description="The author's edit of the summary text.")


class PublicSummary(BaseModel):
    pair_id: int
    reflection_id: int
    session_date: dt.date
    author_role: Literal["mentor", "mentee"]
    summary: dict[str, Any]


class AgendaRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    minutes: int | None = Field(default=None, ge=15, le=120, examples=[45])
    save: bool = True
    lead: str | None = Field(default=None, min_length=1, max_length=100,
                             description="Lead with one of a previous agenda's alternatives "
                             "(a candidate topic's id, or \"goal\"); null lets the coach choose")


class Reason(BaseModel):
    signal: str = Field(examples=["inactivity"])
    detail: str = Field(examples=["36 days since the last held session, 2.6x the 14-day cadence"])


class SuggestedAction(BaseModel):
    action: Literal["nudge", "help_reschedule", "check_the_match", "re_pair", "close_well"]
    label: str
    for_signals: list[str]
    guidance: str
    source: str


class PairHealth(BaseModel):
    pair_id: int
    status: Literal["healthy", "at_risk", "stalled"]
    score: int = Field(ge=0, le=100)
    reasons: list[Reason]
    suggested_actions: list[SuggestedAction]


class Overview(BaseModel):
    as_of: str
    counts: dict[str, int]
    snapshots: list[dict[str, Any]]
    sessions_held: list[dict[str, Any]]
    changes_since_last_week: list[dict[str, Any]]


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = Field(min_length=1, max_length=2000,
                         examples=["How do I handle a senior who keeps checking their phone?"])


class ChatMessage(BaseModel):
    id: int
    role: Literal["user", "assistant"]
    content: str
    meta: dict[str, Any] | None
    created_at: str


class Document(BaseModel):
    source: str = Field(examples=["knowledge/coordinator-guide.md"],
                        description="knowledge/<path>, uploads/<name>, or <folder>/<path> for "
                                    "a folder ingested with the CLI; never a server path.")
    kind: str
    title: str
    chunk_count: int
    ingested_at: dt.datetime


class SkippedFile(BaseModel):
    path: str = Field(examples=["uploads/handbook.docx"])
    reason: str = Field(examples=["the .docx expands to 20 MB of XML; the limit is 8 MB"])


class IngestReport(BaseModel):
    files: int
    chunks_added: int
    chunks_unchanged: int
    chunks_removed: int
    skipped: list[SkippedFile]


class IngestJob(BaseModel):
    id: int = Field(examples=[7])
    kind: Literal["upload", "reingest"]
    name: str = Field(examples=["uploads/mentoring-handbook.docx"])
    status: Literal["queued", "running", "done", "failed"] = Field(
        description="queued, then running, then done (see report) or failed (see error).")
    report: IngestReport | None = Field(default=None, description="Set when the job is done.")
    error: str | None = Field(default=None, description="One line, set when the job failed.",
                              examples=["uploads/handbook.docx: the .docx expands to 20 MB of "
                                        "XML; the limit is 8 MB"])
    requested_by: int | None = Field(default=None, description="The admin who asked for it.")
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None


class Health(BaseModel):
    status: Literal["ok"]
    version: str
