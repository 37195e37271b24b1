"""what one sentence of a reflection hints at (an ending or pause, disengagement) without the
reflection saying it clearly, which health counts only where the diary bears it out; and
whether the writer expects the next booked session not to happen, not only doubts it

Revision ID: 0008
Revises: 0007

Copied out of the summary like the signals of 0007. Summaries written before the reader gave
these have none, so they stay false until the reflection is summarised again.
"""
from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

HINTS = ("hints_ending", "hints_disengaged", "expects_next_dropped")


def upgrade() -> None:
    with op.batch_alter_table("reflections") as batch:
        for name in HINTS:
            batch.add_column(sa.Column(name, sa.Boolean(), nullable=False,
                                       server_default=sa.false()))
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, summary FROM reflections WHERE summary IS NOT NULL"))
    for rid, summary in rows.fetchall():
        data = summary if isinstance(summary, dict) else json.loads(summary or "null") or {}
        found = {name: bool(data.get(name)) for name in HINTS}
        if any(found.values()):
            conn.execute(sa.text("UPDATE reflections SET hints_ending=:hints_ending, "
                                 "hints_disengaged=:hints_disengaged, "
                                 "expects_next_dropped=:expects_next_dropped WHERE id=:id"),
                         {**found, "id": rid})


def downgrade() -> None:
    with op.batch_alter_table("reflections") as batch:
        for name in reversed(HINTS):
            batch.drop_column(name)
