"""Notices to the merchant (issue 22, item 3): the merchant's consent per appeal (channel,
sender, the phrase sealed at rest) and the outbox of decision notices (core.db.notices).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notice_consents",
        sa.Column("appeal_id", sa.String(13),
                  sa.ForeignKey("appeals.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("phrase", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_notice_consents_sender", "notice_consents", ["channel", "sender_id"])
    op.create_table(
        "appeal_notices",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("appeal_id", sa.String(13),
                  sa.ForeignKey("appeals.id", ondelete="CASCADE"), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("errors", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime),
        sa.UniqueConstraint("event_id", "channel", "sender_id",
                            name="uq_appeal_notices_event"),
    )
    op.create_index("ix_appeal_notices_due", "appeal_notices", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_appeal_notices_due", table_name="appeal_notices")
    op.drop_table("appeal_notices")
    op.drop_index("ix_notice_consents_sender", table_name="notice_consents")
    op.drop_table("notice_consents")
