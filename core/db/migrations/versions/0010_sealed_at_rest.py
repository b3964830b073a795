"""Call-back numbers sealed and free text masked at rest (issue 25, Medium 9;
docs/security.md P5 h).

- ``handoffs.contact_phone`` holds a sealed token (``core.privacy.seal``, the
  slot-sealing key), not the number: wider than the 11 digits it held (SQLite does not
  enforce the length, so only PostgreSQL's column changes);
- ``agent_messages.outgoing``: what the agent typed, sealed, until it is delivered;
  ``agent_messages.text`` is what the console shows, personal numbers masked;
- the rows written before: numbers sealed, notes, resolutions and replies masked (the
  undelivered replies keep their typed text sealed in ``outgoing`` for a retry).

Masking is not undone by the downgrade (the digits are gone); the numbers are opened
again if the key is at hand.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from core.privacy import is_sealed, mask_personal_data, seal

    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.alter_column("handoffs", "contact_phone", type_=sa.Text,
                        existing_type=sa.String(11))
    op.add_column("agent_messages", sa.Column("outgoing", sa.Text))

    for row_id, phone in bind.execute(sa.text(
            "SELECT id, contact_phone FROM handoffs WHERE contact_phone IS NOT NULL")).all():
        if not is_sealed(phone):
            bind.execute(sa.text("UPDATE handoffs SET contact_phone = :v WHERE id = :id"),
                         {"v": seal(phone), "id": row_id})
    for table, column in (("handoff_notes", "text"), ("handoffs", "resolution")):
        rows = bind.execute(sa.text(
            f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL")).all()
        for row_id, value in rows:
            masked = mask_personal_data(value)
            if masked != value:
                bind.execute(sa.text(f"UPDATE {table} SET {column} = :v WHERE id = :id"),
                             {"v": masked, "id": row_id})
    for row_id, value, status in bind.execute(sa.text(
            "SELECT id, text, status FROM agent_messages")).all():
        masked = mask_personal_data(value)
        if masked == value:
            continue
        outgoing = None if status == "sent" else seal(value)
        bind.execute(sa.text("UPDATE agent_messages SET text = :v, outgoing = :o "
                             "WHERE id = :id"), {"v": masked, "o": outgoing, "id": row_id})


def downgrade() -> None:
    from core.privacy import unseal

    bind = op.get_bind()
    for row_id, sealed in bind.execute(sa.text(
            "SELECT id, contact_phone FROM handoffs WHERE contact_phone IS NOT NULL")).all():
        opened = unseal(sealed)
        bind.execute(sa.text("UPDATE handoffs SET contact_phone = :v WHERE id = :id"),
                     {"v": opened if opened and len(opened) <= 11 else None, "id": row_id})
    for row_id, sealed in bind.execute(sa.text(
            "SELECT id, outgoing FROM agent_messages WHERE outgoing IS NOT NULL")).all():
        opened = unseal(sealed)
        if opened:
            bind.execute(sa.text("UPDATE agent_messages SET text = :v WHERE id = :id"),
                         {"v": opened, "id": row_id})
    # A plain DROP COLUMN (SQLite 3.35+): rebuilding the table, as a batch would, trips
    # over the insights view that reads agent_messages.
    op.execute(sa.text("ALTER TABLE agent_messages DROP COLUMN outgoing"))
    if bind.dialect.name != "sqlite":
        op.alter_column("handoffs", "contact_phone", type_=sa.String(11),
                        existing_type=sa.Text)
