"""Initial ledger: actions (unique key, state, lease, fencing attempt), events_log, watermarks.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Plain types here on purpose: a migration is frozen history and must not follow later edits of
# schema.py. DateTime(timezone=True) is exactly what schema.UtcDateTime renders.
Instant = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("occurrence", sa.String(40), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("due_at", Instant, nullable=False),
        sa.Column("deadline_at", Instant, nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("to_address", sa.String(320)),
        sa.Column("language", sa.String(16)),
        sa.Column("time_zone", sa.String(64)),
        sa.Column("lease_until", Instant),
        sa.Column("worker", sa.String(200)),
        sa.Column("message_id", sa.String(255)),
        sa.Column("crm_id", sa.String(40)),
        sa.Column("template_version", sa.String(64)),
        sa.Column("sent_at", Instant),
        sa.Column("created_at", Instant, nullable=False),
        sa.Column("updated_at", Instant, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_actions"),
        sa.UniqueConstraint(
            "event_id",
            "occurrence",
            "recipient",
            "kind",
            name="uq_actions_event_id_occurrence_recipient_kind",
        ),
    )
    op.create_index("ix_actions_status_due_at", "actions", ["status", "due_at"])
    op.create_index("ix_actions_event_id", "actions", ["event_id"])
    op.create_table(
        "events_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("at", Instant, nullable=False),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(200)),
        sa.PrimaryKeyConstraint("id", name="pk_events_log"),
        sa.ForeignKeyConstraint(
            ["action_id"], ["actions.id"], name="fk_events_log_action_id_actions", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_events_log_action_id", "events_log", ["action_id"])
    op.create_table(
        "watermarks",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("value", Instant, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_watermarks"),
    )


def downgrade() -> None:
    op.drop_table("watermarks")
    op.drop_index("ix_events_log_action_id", table_name="events_log")
    op.drop_table("events_log")
    op.drop_index("ix_actions_event_id", table_name="actions")
    op.drop_index("ix_actions_status_due_at", table_name="actions")
    op.drop_table("actions")
