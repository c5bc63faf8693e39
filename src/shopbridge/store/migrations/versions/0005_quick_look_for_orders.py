"""The quick look for new TikTok orders between reconciliation passes.

- `connections.last_polled_at`: when a worker last looked (claimed atomically, one worker a look).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen column type (see 0001).
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.add_column(sa.Column("last_polled_at", TIME))


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("last_polled_at")
