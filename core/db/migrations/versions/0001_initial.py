"""Initial schema: merchants, account states, appeals, identity bindings, attempts.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

account_status = sa.Enum(
    "normal", "restricted", "risk_controlled", "frozen", name="account_status"
)
appeal_status = sa.Enum("submitted", "reviewing", "approved", "rejected", name="appeal_status")


def upgrade() -> None:
    op.create_table(
        "merchants",
        sa.Column("id", sa.String(10), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("business_type", sa.String(40), nullable=False),
        sa.Column("bound_phone", sa.String(11), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "account_states",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("merchant_id", sa.String(10), sa.ForeignKey("merchants.id"), nullable=False),
        sa.Column("status", account_status, nullable=False),
        sa.Column("reason_code", sa.String(40)),
        sa.Column("since", sa.DateTime, nullable=False),
        sa.Column("can_collect", sa.Boolean, nullable=False),
        sa.Column("can_withdraw", sa.Boolean, nullable=False),
    )
    op.create_index("ix_account_states_merchant_since", "account_states", ["merchant_id", "since"])
    op.create_table(
        "appeals",
        sa.Column("id", sa.String(13), primary_key=True),
        sa.Column("merchant_id", sa.String(10), sa.ForeignKey("merchants.id"), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("contact_phone", sa.String(11), nullable=False),
        sa.Column("status", appeal_status, nullable=False),
        sa.Column("decision_note", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_appeals_merchant_created", "appeals", ["merchant_id", "created_at"])
    op.create_table(
        "identity_bindings",
        sa.Column("channel", sa.String(40), primary_key=True),
        sa.Column("sender_id", sa.String(128), primary_key=True),
        sa.Column("merchant_id", sa.String(10), sa.ForeignKey("merchants.id"), nullable=False),
        sa.Column("verified_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "verification_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("success", sa.Boolean, nullable=False),
        sa.Column("attempted_at", sa.DateTime, nullable=False),
    )
    op.create_index(
        "ix_verification_attempts_sender",
        "verification_attempts",
        ["channel", "sender_id", "attempted_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_verification_attempts_sender", "verification_attempts")
    op.drop_table("verification_attempts")
    op.drop_table("identity_bindings")
    op.drop_index("ix_appeals_merchant_created", "appeals")
    op.drop_table("appeals")
    op.drop_index("ix_account_states_merchant_since", "account_states")
    op.drop_table("account_states")
    op.drop_table("merchants")
    appeal_status.drop(op.get_bind(), checkfirst=True)
    account_status.drop(op.get_bind(), checkfirst=True)
