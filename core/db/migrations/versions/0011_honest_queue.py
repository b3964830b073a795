"""An honest queue (issue 20, item 3): a widget visitor who left while waiting is
marked (``left_at``), and a waiting handoff the queue let go of without an agent says
why and when (``queue_end``, ``queue_ended_at``) and whether the merchant was told
(``queue_notified_at``; NULL with ``queue_end`` set: still to tell).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

COLUMNS = ("left_at", "queue_end", "queue_ended_at", "queue_notified_at")


# Plain ALTER TABLE, no batch copy: SQLite (3.35 and newer drops columns) would have to
# rename a table the insights views (0008) read.


def upgrade() -> None:
    op.add_column("handoffs", sa.Column("left_at", sa.DateTime))
    op.add_column("handoffs", sa.Column("queue_end", sa.String(20)))
    op.add_column("handoffs", sa.Column("queue_ended_at", sa.DateTime))
    op.add_column("handoffs", sa.Column("queue_notified_at", sa.DateTime))


def downgrade() -> None:
    for name in reversed(COLUMNS):
        op.drop_column("handoffs", name)
