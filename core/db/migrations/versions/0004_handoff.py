"""Human handoff: agents, their sessions, handoffs (who owns a conversation), internal
notes and agent messages with their delivery state.

Statuses are stored as checked strings (no database enum type), so adding one later
needs no type migration.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OPEN = "status IN ('waiting', 'agent', 'ticket')"


def _status(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True)


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(40), nullable=False, unique=True),
        sa.Column("display_name", sa.String(40), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("presence", _status("agent_presence", "offline", "online", "away"),
                  nullable=False),
        sa.Column("max_open", sa.Integer, nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False),
        sa.Column("locked_until", sa.DateTime),
        sa.Column("last_seen_at", sa.DateTime),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "agent_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("agent_id", sa.Integer, sa.ForeignKey("agents.id"), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("merchant_id", sa.String(10)),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("problem", sa.Text),
        sa.Column("status", _status("handoff_status", "waiting", "agent", "ticket", "closed",
                                    "cancelled"), nullable=False),
        sa.Column("agent_id", sa.Integer, sa.ForeignKey("agents.id")),
        sa.Column("account_snapshot", sa.Text),
        sa.Column("contact_method", sa.String(20)),
        sa.Column("contact_phone", sa.String(11)),
        sa.Column("queued_at", sa.DateTime, nullable=False),
        sa.Column("claimed_at", sa.DateTime),
        sa.Column("first_reply_at", sa.DateTime),
        sa.Column("closed_at", sa.DateTime),
        sa.Column("resolution", sa.Text),
        sa.Column("satisfaction", sa.Integer),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_handoffs_status_queued", "handoffs", ["status", "queued_at"])
    op.create_index("ix_handoffs_conversation", "handoffs",
                    ["channel", "sender_id", "queued_at"])
    op.create_index("uq_handoffs_one_open_per_conversation", "handoffs",
                    ["channel", "sender_id"], unique=True,
                    sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))
    op.create_table(
        "handoff_notes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("handoff_id", sa.Integer, sa.ForeignKey("handoffs.id"), nullable=False),
        sa.Column("agent_id", sa.Integer, sa.ForeignKey("agents.id"), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_handoff_notes_handoff_id", "handoff_notes", ["handoff_id"])
    op.create_table(
        "agent_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("handoff_id", sa.Integer, sa.ForeignKey("handoffs.id"), nullable=False),
        sa.Column("agent_id", sa.Integer, sa.ForeignKey("agents.id"), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("status", _status("delivery_status", "pending", "sent", "failed"),
                  nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime),
    )
    op.create_index("ix_agent_messages_handoff_id", "agent_messages", ["handoff_id"])


def downgrade() -> None:
    op.drop_table("agent_messages")
    op.drop_table("handoff_notes")
    op.drop_index("uq_handoffs_one_open_per_conversation", table_name="handoffs")
    op.drop_table("handoffs")
    op.drop_table("agent_sessions")
    op.drop_table("agents")
