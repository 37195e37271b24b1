"""reflection signals copied out of summaries, and indexes for health at scale

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reflections") as batch:
        batch.add_column(sa.Column("sentiment", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("engagement", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("blocker_count", sa.Integer(), nullable=False,
                                   server_default="0"))
    # Backfill from existing summaries.
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, summary FROM reflections WHERE summary IS NOT NULL"))
    import json

    for rid, summary in rows.fetchall():
        data = summary if isinstance(summary, dict) else json.loads(summary or "null") or {}
        conn.execute(
            sa.text("UPDATE reflections SET sentiment=:s, engagement=:e, blocker_count=:b WHERE id=:id"),
            {"s": data.get("sentiment"), "e": data.get("engagement"),
             "b": len(data.get("blockers") or []), "id": rid},
        )
    op.create_index("ix_sessions_pair_date", "sessions", ["pair_id", "date"])


def downgrade() -> None:
    op.drop_index("ix_sessions_pair_date", table_name="sessions")
    with op.batch_alter_table("reflections") as batch:
        batch.drop_column("blocker_count")
        batch.drop_column("engagement")
        batch.drop_column("sentiment")
