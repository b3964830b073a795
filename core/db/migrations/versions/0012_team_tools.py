"""Team tools (issue 20, item 5): canned replies the team manages, the 会话小结 labels
an agent picks when closing a handoff, and the audit of who changed either.

``canned_replies``: title, shortcut (``/95017``, unique, lower-case), text in the
agent's voice with ``{变量}``, active, order, version; seeded by the console on first
use (console.canned), not here: the seed texts are the console's.
``handoff_labels``: the taxonomy, seeded here with the labels this domain needs
(申诉进度, 解封时间, …); ``handoffs.label_id``: the label chosen at close.
``team_changes``: one row per change (kind, item, action, who, before, after).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-09
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# Frozen here on purpose: the labels a new database starts with (supervisors edit them).
LABELS = ("申诉进度", "解封时间", "限制原因", "资金安全", "收款方式", "身份核验", "防骗",
          "投诉", "其他")


def upgrade() -> None:
    op.create_table(
        "canned_replies",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("title", sa.String(40), nullable=False),
        sa.Column("shortcut", sa.String(24), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.text("true")),
        sa.Column("position", sa.Integer, nullable=False, server_default="0"),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("updated_by", sa.Integer, sa.ForeignKey("agents.id")),
        sa.UniqueConstraint("shortcut", name="uq_canned_replies_shortcut"),
    )
    labels = op.create_table(
        "handoff_labels",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(20), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.text("true")),
        sa.Column("position", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("name", name="uq_handoff_labels_name"),
    )
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    op.bulk_insert(labels, [{"name": name, "active": True, "position": index,
                             "created_at": now, "updated_at": now}
                            for index, name in enumerate(LABELS, start=1)])
    op.create_table(
        "team_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("item_id", sa.Integer, nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("agent_id", sa.Integer, sa.ForeignKey("agents.id")),
        sa.Column("agent_username", sa.String(40)),
        sa.Column("before", sa.Text),
        sa.Column("after", sa.Text),
        sa.Column("changed_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_team_changes_changed_at", "team_changes", ["changed_at"])
    op.create_index("ix_team_changes_item", "team_changes", ["kind", "item_id"])
    # Plain ALTER TABLE, no batch copy (as 0011): the insights views (0008) read handoffs.
    # SQLite takes the reference inline only (Alembic would add it as a constraint, which
    # SQLite cannot ALTER); PostgreSQL gets a named constraint.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE handoffs ADD COLUMN label_id INTEGER "
                   "REFERENCES handoff_labels (id)")
    else:
        op.add_column("handoffs", sa.Column("label_id", sa.Integer))
        op.create_foreign_key("fk_handoffs_label_id", "handoffs", "handoff_labels",
                              ["label_id"], ["id"])
    op.create_index("ix_handoffs_label_closed", "handoffs", ["label_id", "closed_at"])


def downgrade() -> None:
    op.drop_index("ix_handoffs_label_closed", table_name="handoffs")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("fk_handoffs_label_id", "handoffs", type_="foreignkey")
    op.drop_column("handoffs", "label_id")
    op.drop_index("ix_team_changes_item", table_name="team_changes")
    op.drop_index("ix_team_changes_changed_at", table_name="team_changes")
    op.drop_table("team_changes")
    op.drop_table("handoff_labels")
    op.drop_table("canned_replies")
