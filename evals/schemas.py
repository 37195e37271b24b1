"""What each suite's cases must hold (evals/ANNOTATION.md describes them for people). A case
that does not is refused when the dataset loads, in one line naming the file, the line, the case
and the field, before any suite runs."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from coach.domain.vocabulary import Owner, Sentiment, SessionStatus, Visibility
from coach.health.signals import STATUSES


class _Case(BaseModel):
    # fields a suite does not read (a writer's notes, "why") are allowed
    model_config = ConfigDict(extra="allow")


class PairSpec(_Case):
    mentor: str | None = None
    mentee: str | None = None
    focus: list[str] = []
    goals: list[str] = []
    cadence_days: int = Field(14, ge=1, le=365)
    started_on: dt.date | None = None


class SessionSpec(_Case):
    date: dt.date
    status: SessionStatus = SessionStatus.held
    duration_minutes: int = Field(45, ge=1, le=480)


class PairReflection(_Case):
    date: dt.date
    author_role: Owner = Owner.mentee
    text: str = Field(min_length=1)
    visibility: Visibility = Visibility.pair


class PairActionItem(_Case):
    text: str = Field(min_length=1)
    owner: Owner = Owner.mentee
    due: dt.date | None = None
    done: bool = False


class PairHistory(_Case):
    id: str | int
    as_of: dt.date
    pair: PairSpec = PairSpec()
    sessions: list[SessionSpec] = []
    reflections: list[PairReflection] = []
    action_items: list[PairActionItem] = []


class HealthGold(_Case):
    status: Literal[STATUSES]


class HealthCase(PairHistory):
    gold: HealthGold


class AgendaGold(_Case):
    must_follow_up: list[str] = []
    must_address_goals: list[str] = []
    topic_grades: dict[str, Literal[0, 1, 2]] = {}
    open_points: list[str] = []


class AgendaCase(PairHistory):
    covered_topics: list[str] = []
    duration_minutes: int = Field(ge=5, le=480)
    gold: AgendaGold = AgendaGold()


class GoldItem(_Case):
    text: str = Field(min_length=1)
    owner: Owner | None = None
    due: dt.date | None = None


class ReflectionGold(_Case):
    action_items: list[GoldItem | str] = []  # older cases give the text alone
    blockers: list[str] = []
    sentiment: Sentiment | None = None
    key_points: list[str] = []
    ending: bool | None = None
    disengaged: bool | None = None


class ReflectionCase(_Case):
    id: str | int
    text: str = Field(min_length=1)
    author_role: Owner = Owner.mentee
    session_date: dt.date | None = None
    next_session: dt.date | None = None
    gold: ReflectionGold


class TopicGold(_Case):
    focus: list[str] = []
    grades: dict[str, Literal[0, 1, 2]] = {}
    covered_ids: list[str] = []


class TopicCase(_Case):
    id: str | int
    pair: PairSpec = PairSpec()
    covered_topics: list[str] = []
    k: int = Field(3, ge=1, le=20)
    gold: TopicGold = TopicGold()


class RetrievalCase(_Case):
    id: str | int
    query: str = Field(min_length=1)
    focus: str | None = None
    answer_contains: list[str] = Field(min_length=1)


class ChatGold(_Case):
    covered: bool = True
    sections: list[str] = []


class ChatCase(_Case):
    id: str | int
    role: Owner = Owner.mentor
    pair: PairSpec = PairSpec()
    question: str = Field(min_length=1)
    gold: ChatGold = ChatGold()


class ClaimCase(_Case):
    id: str | int
    reflection_id: str | int
    kind: Literal["paraphrase", "negation", "owner_swap", "date_swap", "number_swap",
                  "invented", "other_reflection"]
    claim: str = Field(min_length=1)
    supported: bool


SCHEMAS: dict[str, type[BaseModel]] = {
    "retrieval": RetrievalCase, "reflections": ReflectionCase, "health": HealthCase,
    "agendas": AgendaCase, "topics": TopicCase, "chat": ChatCase, "faithfulness": ClaimCase,
}


def problem(suite: str, case: dict[str, Any]) -> str | None:
    """The first thing wrong with a case, as "field: what is wrong", or None."""
    try:
        SCHEMAS[suite].model_validate(case)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"] if not _union_branch(part)) \
            or "the case"
        if error["type"] == "missing":
            return f"{field} is missing"
        return f"{field}: {error['msg']} (got {error['input']!r:.60})"
    return None


def _union_branch(part: Any) -> bool:
    """The name pydantic gives a branch of a union in an error's path ("GoldItem", "str")."""
    return isinstance(part, str) and (part[:1].isupper() or part in ("str", "int") or "[" in part)
