"""What the features answer, each defined once: the API's response schemas are these models,
the CLI prints what they hold and the agenda's Markdown is rendered from one. Every result
carries its provenance beside the value (how it was made, and from what).

The features check what they return against these at their one entry point
(coach.features.pair_features), so a composer that drifts from the published shape fails
there, not in a client.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from coach.generation.guard import FallbackReason

Focus = Literal["technology", "generational", "inclusion"]
Visibility = Literal["private", "pair", "programme"]
Owner = Literal["mentor", "mentee"]
Sentiment = Literal["positive", "neutral", "negative"]
Engagement = Literal["high", "medium", "low"]

Result = TypeVar("Result", bound=BaseModel)


class Provenance(BaseModel):
    """How a result was made: the backend, whether the checked fallback stood in (and why),
    the time and tokens it took, and the sources it drew on."""

    model_config = ConfigDict(extra="allow")
    backend: str = Field(examples=["embedded"])
    fallback: bool
    fallback_reason: str | None = Field(
        default=None, examples=[None],
        description="Why the checked fallback was used: "
                    + "; ".join(f'"{r.value}"' for r in FallbackReason)
                    + ". The model's own words are never repeated here.")
    latency_ms: float = Field(examples=[2473.9])
    tokens: int = Field(examples=[575])
    sources: list[str] = Field(examples=[["knowledge/session-structure.md", "pair:1/goals"]])


# -- the agenda ----------------------------------------------------------------------------
class AgendaItem(BaseModel):
    kind: Literal["check_in", "follow_up", "open_point", "topic", "activity", "reflection",
                  "wrap_up"]
    title: str
    minutes: int
    details: str
    topic_id: str | None
    action_item_id: int | None
    sources: list[str]


class PrepNote(BaseModel):
    note: str
    source: str
    heading: str


class Alternative(BaseModel):
    lead: str = Field(description="A candidate topic's id, or \"goal\"", examples=["tech-phishing"])
    title: str


class Agenda(BaseModel):
    pair_id: int
    minutes: int = Field(examples=[45])
    items: list[AgendaItem]
    opening_questions: list[str]
    prep_notes: list[PrepNote]
    provenance: Provenance
    next_date: str | None = None
    session_id: int | None = None
    lead: str | None = Field(default=None, description="What the mentor chose to lead with; "
                             "null when the coach chose")
    alternatives: list[Alternative] = Field(
        default_factory=list, description="What the session may be led with instead: send one "
        "as `lead` to rebuild the agenda around it")


# -- topics --------------------------------------------------------------------------------
class Topic(BaseModel):
    id: str = Field(examples=["tech-phishing"])
    title: str
    focus: Focus
    level: str
    why: str
    starters: list[str]
    activity: str
    source: str
    cites: str


class Topics(BaseModel):
    topics: list[Topic]
    provenance: Provenance


# -- a reflection's summary ------------------------------------------------------------------
class ActionItemFound(BaseModel):
    text: str
    owner: Owner
    due: str | None


class Summary(BaseModel):
    summary: str = Field(examples=["Amara showed me the meeting-notes assistant."])
    key_points: list[str]
    action_items: list[ActionItemFound]
    blockers: list[str]
    sentiment: Sentiment
    engagement: Engagement
    topics: list[str]
    provenance: Provenance


class ReflectionResult(Summary):
    reflection_id: int
    session_id: int
    visibility: Visibility
    private: bool


def checked(model: type[Result], result: dict[str, Any]) -> dict[str, Any]:
    """``result``, once it has the shape ``model`` publishes (a drifted composer raises
    pydantic's ValidationError here, naming the field)."""
    model.model_validate(result)
    return result
