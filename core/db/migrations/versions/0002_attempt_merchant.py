"""Record which merchant id each verification attempt was for (brute-force limit).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("verification_attempts") as batch:
        batch.add_column(sa.Column("merchant_id", sa.String(10), nullable=True))
        batch.create_index(
            "ix_verification_attempts_merchant", ["merchant_id", "attempted_at"]
        )


def downgrade() -> None:
    with op.batch_alter_table("verification_attempts") as batch:
        batch.drop_index("ix_verification_attempts_merchant")
        batch.drop_column("merchant_id")
