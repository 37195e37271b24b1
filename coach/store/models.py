"""SQLAlchemy 2.0 ORM entities of a programme."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, list[str]: JSON}


class Programme(Base):
    __tablename__ = "programmes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    objectives: Mapped[str] = mapped_column(Text, default="")
    default_cadence_days: Mapped[int] = mapped_column(Integer, default=14)
    default_session_minutes: Mapped[int] = mapped_column(Integer, default=45)
    starts_on: Mapped[dt.date | None] = mapped_column(Date)
    ends_on: Mapped[dt.date | None] = mapped_column(Date)
    # Per-programme overrides of the health thresholds (see coach.health).
    health_thresholds: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    pairs: Mapped[list[Pair]] = relationship(back_populates="programme")


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    department: Mapped[str] = mapped_column(String(200), default="")
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    manager: Mapped[Person | None] = relationship(remote_side=[id])

    __table_args__ = (
        CheckConstraint("role in ('mentor','mentee','coordinator','admin')", name="ck_person_role"),
    )


class Pair(Base):
    __tablename__ = "pairs"

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"))
    mentor_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="RESTRICT"))
    mentee_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="RESTRICT"))
    focus: Mapped[list[str]] = mapped_column(JSON, default=list)
    cadence_days: Mapped[int] = mapped_column(Integer)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    programme: Mapped[Programme] = relationship(back_populates="pairs")
    mentor: Mapped[Person] = relationship(foreign_keys=[mentor_id])
    mentee: Mapped[Person] = relationship(foreign_keys=[mentee_id])
    goals: Mapped[list[Goal]] = relationship(
        back_populates="pair", cascade="all, delete-orphan", order_by="Goal.id"
    )
    sessions: Mapped[list[Session]] = relationship(
        back_populates="pair", cascade="all, delete-orphan", order_by="Session.date"
    )
    action_items: Mapped[list[ActionItem]] = relationship(
        back_populates="pair", cascade="all, delete-orphan", order_by="ActionItem.id"
    )

    __table_args__ = (
        CheckConstraint("mentor_id <> mentee_id", name="ck_pair_not_self"),
        CheckConstraint("status in ('active','paused','closed')", name="ck_pair_status"),
        CheckConstraint("cadence_days > 0", name="ck_pair_cadence"),
        # One open pair per mentor and mentee, even when two writers race (migration 0004).
        Index("uq_pairs_open", "mentor_id", "mentee_id", unique=True,
              sqlite_where=text("status <> 'closed'"),
              postgresql_where=text("status <> 'closed'")),
    )


class Goal(Base):
    __tablename__ = "goals"

    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pairs.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    pair: Mapped[Pair] = relationship(back_populates="goals")

    __table_args__ = (
        CheckConstraint(
            "status in ('open','in_progress','achieved','dropped')", name="ck_goal_status"
        ),
    )


class Session(Base):
    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pairs.id", ondelete="CASCADE"), index=True)
    date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    minutes: Mapped[int] = mapped_column(Integer)
    agenda: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    pair: Mapped[Pair] = relationship(back_populates="sessions")
    reflections: Mapped[list[Reflection]] = relationship(
        back_populates="session", cascade="all, delete-orphan", order_by="Reflection.id"
    )

    __table_args__ = (
        CheckConstraint(
            "status in ('scheduled','held','cancelled','no_show')", name="ck_session_status"
        ),
        CheckConstraint("minutes > 0", name="ck_session_minutes"),
        Index("ix_sessions_pair_date", "pair_id", "date"),  # migration 0002
    )


# What the reader found in a reflection that health reads, copied out of its summary, in the
# order of coach.health.signals.ReflectionFact's fields.
READER_SIGNALS = ("ending", "disengaged", "doubts_next", "hints_ending", "hints_disengaged",
                  "expects_next_dropped")


class Reflection(Base):
    __tablename__ = "reflections"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="RESTRICT"))
    text: Mapped[str] = mapped_column(Text)
    # Who may see what is derived from it: private (the author), pair (the partner sees the
    # confirmed summary, the coordinator labels), programme (the coordinator the summary too).
    visibility: Mapped[str] = mapped_column(String(10), default="private",
                                            server_default="private")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    summary_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Signals copied out of the summary so pair health can be computed without parsing JSON.
    sentiment: Mapped[str | None] = mapped_column(String(10))
    engagement: Mapped[str | None] = mapped_column(String(10))
    blocker_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # What the reader found that health reads (migrations 0007 and 0008).
    ending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    disengaged: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    doubts_next: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    hints_ending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    hints_disengaged: Mapped[bool] = mapped_column(Boolean, default=False,
                                                   server_default=false())
    expects_next_dropped: Mapped[bool] = mapped_column(Boolean, default=False,
                                                       server_default=false())

    session: Mapped[Session] = relationship(back_populates="reflections")
    author: Mapped[Person] = relationship()

    __table_args__ = (
        CheckConstraint("visibility in ('private','pair','programme')",
                        name="ck_reflection_visibility"),
    )


class ReaderCorrection(Base):
    """An author's correction of what the reader found in their reflection, kept as a labelled
    example for `coach reader retrain`. It holds the author's own sentence, so it is deleted
    with the reflection and never shown to anyone else."""

    __tablename__ = "reader_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    reflection_id: Mapped[int] = mapped_column(
        ForeignKey("reflections.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(20))  # commitment | obstacle | sentiment
    sentence: Mapped[str] = mapped_column(Text)  # the reflection's sentence (or whole text)
    value: Mapped[str] = mapped_column(String(20))  # "yes"/"no", or the sentiment
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # owner, due, wording
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ActionItem(Base):
    __tablename__ = "action_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pairs.id", ondelete="CASCADE"), index=True)
    owner: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text)
    due: Mapped[dt.date | None] = mapped_column(Date)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    done_at: Mapped[dt.date | None] = mapped_column(Date)
    # Where it came from: "manual", "reflection", "agenda" or "import".
    origin: Mapped[str] = mapped_column(String(20), default="manual")
    # Items found in a reflection share its visibility and are deleted with it.
    reflection_id: Mapped[int | None] = mapped_column(
        ForeignKey("reflections.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    pair: Mapped[Pair] = relationship(back_populates="action_items")

    __table_args__ = (CheckConstraint("owner in ('mentor','mentee')", name="ck_action_owner"),)


class Document(Base):
    """One ingested file (or pair record set): the manifest that keeps ingestion idempotent."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(1000), unique=True)
    path: Mapped[str | None] = mapped_column(String(2000))
    kind: Mapped[str] = mapped_column(String(20))
    content_hash: Mapped[str] = mapped_column(String(64))
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(500), default="")
    ingested_at: Mapped[dt.datetime] = mapped_column(
        DateTime, default=utcnow, server_default=func.current_timestamp()
    )


class ChatMessage(Base):
    __tablename__ = "chat_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pairs.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(10))  # user | assistant
    content: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ApiToken(Base):
    """A credential. ``personal`` tokens are the person's own. A ``setup`` token was issued by
    someone else (an admin, or the operator's CLI): it works once, to sign in or to exchange
    for a personal token, and whatever it leads to reads the person's private records only
    from ``private_from`` on."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    kind: Mapped[str] = mapped_column(String(10), default="personal", server_default="personal")
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    private_from: Mapped[dt.datetime | None] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (CheckConstraint("kind in ('personal','setup')", name="ck_token_kind"),)


class WebSession(Base):
    """A signed-in browser. The cookie carries a random id whose hash is kept here, so logout
    and revocation end the session on the server."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"),
                                                 index=True)
    private_from: Mapped[dt.datetime | None] = mapped_column(DateTime)
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class CredentialEvent(Base):
    """What happened to a person's credentials, and who did it; shown to the person."""

    __tablename__ = "credential_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class SignInAttempt(Base):
    """Sign-in attempts, kept in the database so every worker counts the same ones."""

    __tablename__ = "signin_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(400))
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("ix_signin_attempts_key_at", "key", "at"),)


class HealthSnapshot(Base):
    """Pair statuses at the end of a past week, kept so trends stay as they were seen."""

    __tablename__ = "health_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(Integer, default=0)  # 0: every programme
    week_ending: Mapped[dt.date] = mapped_column(Date)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    statuses: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("programme_id", "week_ending", name="uq_snapshot_week"),)


class IngestJob(Base):
    """One ingestion run off the request path: an upload, or a re-ingest of every folder.

    Any worker's runner claims a queued job with a conditional update; ``heartbeat_at`` shows
    the runner is alive, so a job left running by a killed worker can be told apart."""

    __tablename__ = "ingest_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(300))
    # the staged upload on the server; never shown
    path: Mapped[str | None] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(10), default="queued")
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"))
    worker: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        CheckConstraint("kind in ('upload','reingest')", name="ck_ingest_job_kind"),
        CheckConstraint("status in ('queued','running','done','failed')",
                        name="ck_ingest_job_status"),
        Index("ix_ingest_jobs_status_id", "status", "id"),  # the runner's claim query
    )
