"""reflection visibility, credentials that can be ended, and sign-in attempts

Revision ID: 0006
Revises: 0005

- reflections.private becomes reflections.visibility (private, pair or programme). A reflection
  that was not private becomes "pair": its author never chose to show the coordinator more.
- action items found in a reflection are deleted with it (the foreign key cascades).
- tokens know their kind (personal, or a one-time setup token someone else issued), who issued
  them and from when they read the person's private records; server-side sign-in sessions,
  credential events shown to the person, and sign-in attempts shared by every worker.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_FK_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def _reflection_fk(ondelete: str) -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # The constraint was created unnamed; a naming convention lets batch mode find it.
        with op.batch_alter_table("action_items", naming_convention=_FK_NAMES) as batch:
            batch.drop_constraint("fk_action_items_reflection_id_reflections", type_="foreignkey")
            batch.create_foreign_key("fk_action_items_reflection_id_reflections", "reflections",
                                     ["reflection_id"], ["id"], ondelete=ondelete)
    else:
        op.drop_constraint("action_items_reflection_id_fkey", "action_items", type_="foreignkey")
        op.create_foreign_key("action_items_reflection_id_fkey", "action_items", "reflections",
                              ["reflection_id"], ["id"], ondelete=ondelete)


def upgrade() -> None:
    with op.batch_alter_table("reflections") as batch:
        batch.add_column(sa.Column("visibility", sa.String(length=10), nullable=False,
                                   server_default="private"))
    op.execute("UPDATE reflections SET visibility = CASE WHEN private THEN 'private' "
               "ELSE 'pair' END")
    with op.batch_alter_table("reflections") as batch:
        batch.drop_column("private")
        batch.create_check_constraint("ck_reflection_visibility",
                                      "visibility in ('private','pair','programme')")

    _reflection_fk("CASCADE")
    op.create_index("ix_action_items_reflection_id", "action_items", ["reflection_id"])

    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=10), nullable=False,
                                   server_default="personal"))
        batch.add_column(sa.Column("issued_by_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("private_from", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("used_at", sa.DateTime(), nullable=True))
        batch.create_foreign_key("fk_api_tokens_issued_by_id_people", "people", ["issued_by_id"],
                                 ["id"], ondelete="SET NULL")
        batch.create_check_constraint("ck_token_kind", "kind in ('personal','setup')")

    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sid_hash", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=True),
        sa.Column("private_from", sa.DateTime(), nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["token_id"], ["api_tokens.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sid_hash"),
    )
    op.create_index("ix_web_sessions_person_id", "web_sessions", ["person_id"])
    op.create_index("ix_web_sessions_token_id", "web_sessions", ["token_id"])

    op.create_table(
        "credential_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["actor_id"], ["people.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_credential_events_person_id", "credential_events", ["person_id"])

    op.create_table(
        "signin_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signin_attempts_key_at", "signin_attempts", ["key", "at"])


def downgrade() -> None:
    op.drop_index("ix_signin_attempts_key_at", table_name="signin_attempts")
    op.drop_table("signin_attempts")
    op.drop_index("ix_credential_events_person_id", table_name="credential_events")
    op.drop_table("credential_events")
    op.drop_index("ix_web_sessions_token_id", table_name="web_sessions")
    op.drop_index("ix_web_sessions_person_id", table_name="web_sessions")
    op.drop_table("web_sessions")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_constraint("ck_token_kind", type_="check")
        batch.drop_constraint("fk_api_tokens_issued_by_id_people", type_="foreignkey")
        for column in ("used_at", "expires_at", "private_from", "issued_by_id", "kind"):
            batch.drop_column(column)
    op.drop_index("ix_action_items_reflection_id", table_name="action_items")
    _reflection_fk("SET NULL")
    with op.batch_alter_table("reflections") as batch:
        batch.add_column(sa.Column("private", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    op.execute("UPDATE reflections SET private = (visibility = 'private')")
    with op.batch_alter_table("reflections") as batch:
        batch.drop_constraint("ck_reflection_visibility", type_="check")
        batch.drop_column("visibility")
