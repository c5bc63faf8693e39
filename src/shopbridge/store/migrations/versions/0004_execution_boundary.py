"""Execution you can kill -9: worker heartbeats, fenced and resumable work, a shared clock.

- `workers`: one row per worker process with its heartbeat (dead siblings are reaped at once);
- `outbox.progress`: what a resumable action already did (the Shopify order it created);
- `deadlines.attempts/not_before/last_error/failed_at`: deadlines are retried and capped too;
- `order_mirrors.stuck_reason`: work about an order that failed outside the domain, with Retry;
- `connections.settings_version`: workers notice changed settings within seconds;
- `connections.last_reconcile_error`: a failed reconciliation pass is shown, not only logged;
- `clock_anchor`: the scaled clock that serve, workers and sandboxes of a rehearsal share.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen column types (see 0001): a migration must not change when the application's types do.
JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("heartbeat_at", TIME, nullable=False),
        sa.Column("stopped_at", TIME),
        sa.Column("stop_reason", sa.String(200)),
        sa.PrimaryKeyConstraint("id", name="pk_workers"),
    )
    op.create_index("ix_workers_host_stopped", "workers", ["host", "stopped_at"])
    op.create_table(
        "clock_anchor",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("factor", sa.Float, nullable=False),
        sa.Column("epoch", sa.Float, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_clock_anchor"),
        sa.CheckConstraint("id = 1", name="ck_clock_anchor_single_row"),
        sa.CheckConstraint("factor > 0", name="ck_clock_anchor_factor"),
    )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("progress", JSON_TYPE))
    with op.batch_alter_table("deadlines") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("not_before", TIME))
        batch.add_column(sa.Column("last_error", sa.Text))
        batch.add_column(sa.Column("failed_at", TIME))
    with op.batch_alter_table("order_mirrors") as batch:
        batch.add_column(sa.Column("stuck_reason", sa.Text))
    with op.batch_alter_table("connections") as batch:
        batch.add_column(sa.Column("last_reconcile_error", sa.Text))
        batch.add_column(
            sa.Column("settings_version", sa.Integer, nullable=False, server_default="1")
        )


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("settings_version")
        batch.drop_column("last_reconcile_error")
    with op.batch_alter_table("order_mirrors") as batch:
        batch.drop_column("stuck_reason")
    with op.batch_alter_table("deadlines") as batch:
        batch.drop_column("failed_at")
        batch.drop_column("last_error")
        batch.drop_column("not_before")
        batch.drop_column("attempts")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("progress")
    op.drop_table("clock_anchor")
    op.drop_index("ix_workers_host_stopped", table_name="workers")
    op.drop_table("workers")
