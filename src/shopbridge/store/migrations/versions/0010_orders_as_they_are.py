"""Per-connection choices for multi-item orders (issue: orders as they really are).

- `create_after_holdback`: create the Shopify order only when the holdback ends, for merchants
  whose 3PL or ERP ignores Shopify's fulfilment holds (off by default);
- `restock_returns`: put a completed TikTok return's units back on sale in Shopify
  automatically (off by default: returned goods are inspected first, then a Restock button).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 21:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.add_column(
            sa.Column(
                "create_after_holdback", sa.Boolean, nullable=False, server_default=sa.false()
            )
        )
        batch.add_column(
            sa.Column("restock_returns", sa.Boolean, nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("restock_returns")
        batch.drop_column("create_after_holdback")
