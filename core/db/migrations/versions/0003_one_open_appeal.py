"""At most one open (submitted or reviewing) appeal per merchant, enforced by the database.

The check in Python alone let concurrent filings for the same merchant (two phones, a
retry) all pass. Open duplicates left by that race are closed first: the earliest open
appeal stays, later ones are marked rejected with a note pointing to it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

INDEX = "uq_appeals_one_open_per_merchant"
OPEN = "status IN ('submitted', 'reviewing')"


def _close_open_duplicates() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(f"SELECT id, merchant_id FROM appeals WHERE {OPEN} ORDER BY created_at, id")
    ).fetchall()
    kept: dict[str, str] = {}
    for appeal_id, merchant_id in rows:
        if merchant_id not in kept:
            kept[merchant_id] = appeal_id
            continue
        connection.execute(
            sa.text("UPDATE appeals SET status = 'rejected', decision_note = :note "
                    "WHERE id = :id"),
            {"id": appeal_id, "note": f"重复提交，已合并到申诉 {kept[merchant_id]} 处理"},
        )


def upgrade() -> None:
    _close_open_duplicates()
    op.create_index(
        INDEX,
        "appeals",
        ["merchant_id"],
        unique=True,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="appeals")
