"""Alerts: at most one digest per interval, whichever process sends it.

- `alert_digests`: one row per digest, claimed before it is sent (its fingerprint names the set
  of alerts it carried; its results say per channel what happened);
- `ix_inbox_connection_source_received`: each connection's newest delivery from each platform,
  for the webhook-silence alert, without scanning the whole inbox.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen column types (see 0001).
ID_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alert_digests",
        sa.Column("id", ID_TYPE, autoincrement=True, nullable=False),
        sa.Column("sent_at", TIME, nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("results", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_digests")),
    )
    op.create_index("ix_alert_digests_sent_at", "alert_digests", ["sent_at"])
    op.create_index(
        "ix_inbox_connection_source_received", "inbox", ["connection_id", "source", "received_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_inbox_connection_source_received", table_name="inbox")
    op.drop_index("ix_alert_digests_sent_at", table_name="alert_digests")
    op.drop_table("alert_digests")
