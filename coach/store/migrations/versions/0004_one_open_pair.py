"""one open pair per mentor and mentee, enforced by the database

Revision ID: 0004
Revises: 0003

The application already refused a second open pair, but two writers checking at the same
moment could both pass. A partial unique index closes that race.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OPEN = sa.text("status <> 'closed'")


def upgrade() -> None:
    duplicates = op.get_bind().execute(sa.text(
        "SELECT mentor_id, mentee_id, count(*) FROM pairs WHERE status <> 'closed' "
        "GROUP BY mentor_id, mentee_id HAVING count(*) > 1 ORDER BY mentor_id, mentee_id"
    )).all()
    if duplicates:
        # Refuse rather than pick a winner: which pair to keep is the coordinator's call.
        listed = ", ".join(f"mentor {m} with mentee {e} ({n} open pairs)" for m, e, n in duplicates)
        raise RuntimeError(
            f"Cannot add the one-open-pair rule: {listed}. Close all but one of each "
            "(`coach pairs status PAIR_ID closed`), then run the migration again.")
    op.create_index("uq_pairs_open", "pairs", ["mentor_id", "mentee_id"], unique=True,
                    sqlite_where=OPEN, postgresql_where=OPEN)


def downgrade() -> None:
    op.drop_index("uq_pairs_open", table_name="pairs")
