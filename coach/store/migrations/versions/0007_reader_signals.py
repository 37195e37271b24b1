"""what the reader found in a reflection that health reads (an ending or pause, disengagement,
doubt about the next booked session), and authors' corrections of the reader

Revision ID: 0007
Revises: 0006

Copied out of the summary like sentiment and blockers (0002), so health reads columns, not
JSON. Existing reflections get them from their summaries where these have them (summaries
written before the reader have not, so they stay false until `coach doctor --repair` or a new
summary).
"""
from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SIGNALS = ("ending", "disengaged", "doubts_next")


def upgrade() -> None:
    with op.batch_alter_table("reflections") as batch:
        for name in SIGNALS:
            batch.add_column(sa.Column(name, sa.Boolean(), nullable=False,
                                       server_default=sa.false()))
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, summary FROM reflections WHERE summary IS NOT NULL"))
    for rid, summary in rows.fetchall():
        data = summary if isinstance(summary, dict) else json.loads(summary or "null") or {}
        found = {name: bool(data.get(name)) for name in SIGNALS}
        if any(found.values()):
            conn.execute(sa.text("UPDATE reflections SET ending=:ending, disengaged=:disengaged, "
                                 "doubts_next=:doubts_next WHERE id=:id"), {**found, "id": rid})
    op.create_table(
        "reader_corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reflection_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=20), nullable=False),
        sa.Column("sentence", sa.Text(), nullable=False),
        sa.Column("value", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["reflection_id"], ["reflections.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_reader_corrections_reflection_id", "reader_corrections",
                    ["reflection_id"])


def downgrade() -> None:
    op.drop_index("ix_reader_corrections_reflection_id", table_name="reader_corrections")
    op.drop_table("reader_corrections")
    with op.batch_alter_table("reflections") as batch:
        for name in reversed(SIGNALS):
            batch.drop_column(name)
