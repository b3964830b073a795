"""Agent desk: opaque handoff references for history, the supervisor flag, and the
audit of reads of closed conversations.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("handoffs") as batch:
        batch.add_column(sa.Column("ref", sa.String(32)))
    # Existing handoffs get their reference before the column becomes required.
    bind = op.get_bind()
    handoffs = sa.table("handoffs", sa.column("id", sa.Integer), sa.column("ref", sa.String))
    for (handoff_id,) in bind.execute(sa.select(handoffs.c.id)).all():
        bind.execute(handoffs.update().where(handoffs.c.id == handoff_id)
                     .values(ref=secrets.token_urlsafe(16)))
    with op.batch_alter_table("handoffs") as batch:
        batch.alter_column("ref", existing_type=sa.String(32), nullable=False)
        batch.create_unique_constraint("uq_handoffs_ref", ["ref"])
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("supervisor", sa.Boolean, nullable=False,
                                   server_default=sa.false()))
    op.create_table(
        "handoff_reads",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("handoff_id", sa.Integer, sa.ForeignKey("handoffs.id"), nullable=False),
        sa.Column("agent_id", sa.Integer, sa.ForeignKey("agents.id"), nullable=False),
        sa.Column("read_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_handoff_reads_handoff_id", "handoff_reads", ["handoff_id"])


def downgrade() -> None:
    op.drop_index("ix_handoff_reads_handoff_id", table_name="handoff_reads")
    op.drop_table("handoff_reads")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("supervisor")
    with op.batch_alter_table("handoffs") as batch:
        batch.drop_constraint("uq_handoffs_ref", type_="unique")
        batch.drop_column("ref")
