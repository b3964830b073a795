"""Unanswered-questions inbox: triage actions (the audit: who, when, what) and the
messages each action took out of the open inbox.

``inbox_actions``: one row per action of a supervisor (add as similar question, out of
scope, ignore) with the knowledge entry and draft revision it created;
``inbox_triaged``: one row per triaged message, keyed by the event broker's event id and
the sender (the events live in another database, so there is no foreign key). The
primary key makes a message triaged once, even by two supervisors at the same moment.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox_actions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("action", sa.Enum("similar", "out_of_scope", "ignore",
                                    name="inbox_action_kind", native_enum=False,
                                    create_constraint=True), nullable=False),
        sa.Column("agent_id", sa.Integer, sa.ForeignKey("agents.id"), nullable=False),
        sa.Column("agent_username", sa.String(40), nullable=False),
        sa.Column("entry_id", sa.String(64)),
        sa.Column("revision", sa.Integer),
        sa.Column("added", sa.Text, nullable=False),
        sa.Column("messages", sa.Integer, nullable=False),
        sa.Column("note", sa.String(500)),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_inbox_actions_created_at", "inbox_actions", ["created_at"])
    op.create_table(
        "inbox_triaged",
        sa.Column("event_id", sa.BigInteger, primary_key=True),
        sa.Column("sender_id", sa.String(255), primary_key=True),
        sa.Column("action_id", sa.Integer, sa.ForeignKey("inbox_actions.id"),
                  nullable=False),
    )
    op.create_index("ix_inbox_triaged_action_id", "inbox_triaged", ["action_id"])


def downgrade() -> None:
    op.drop_index("ix_inbox_triaged_action_id", table_name="inbox_triaged")
    op.drop_table("inbox_triaged")
    op.drop_index("ix_inbox_actions_created_at", table_name="inbox_actions")
    op.drop_table("inbox_actions")
