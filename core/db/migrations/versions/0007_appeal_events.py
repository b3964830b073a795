"""Appeal decisions from the back office: the events as sent (one per event id) and the
signatures of accepted requests (replays refused).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "appeal_events",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("appeal_id", sa.String(13), sa.ForeignKey("appeals.id"), nullable=False),
        sa.Column("kind", sa.Enum("needs_materials", "approved", "rejected",
                                  name="appeal_decision_kind", native_enum=False,
                                  create_constraint=True), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("missing_materials", sa.Text, nullable=False),
        sa.Column("decided_at", sa.DateTime, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("appeal_status", sa.String(20), nullable=False),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_appeal_events_appeal_decided", "appeal_events",
                    ["appeal_id", "decided_at"])
    op.create_table(
        "backoffice_signatures",
        sa.Column("signature", sa.String(64), primary_key=True),
        sa.Column("used_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_backoffice_signatures_used_at", "backoffice_signatures", ["used_at"])


def downgrade() -> None:
    op.drop_index("ix_backoffice_signatures_used_at", table_name="backoffice_signatures")
    op.drop_table("backoffice_signatures")
    op.drop_index("ix_appeal_events_appeal_decided", table_name="appeal_events")
    op.drop_table("appeal_events")
