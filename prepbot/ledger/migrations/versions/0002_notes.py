"""Prep notes: one row per meeting with its ContentNote Id, linked record and content hash.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

Instant = sa.DateTime(timezone=True)  # what schema.UtcDateTime renders (see 0001)


def upgrade() -> None:
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("occurrence", sa.String(40), nullable=False),
        sa.Column("linked_entity_id", sa.String(40), nullable=False),
        sa.Column("note_id", sa.String(40)),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("updated_at", Instant, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notes"),
        sa.UniqueConstraint("event_id", "occurrence", name="uq_notes_event_id_occurrence"),
    )
    op.create_index("ix_notes_event_id", "notes", ["event_id"])


def downgrade() -> None:
    op.drop_index("ix_notes_event_id", table_name="notes")
    op.drop_table("notes")
