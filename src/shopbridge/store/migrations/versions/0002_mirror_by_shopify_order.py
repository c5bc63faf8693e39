"""Index order mirrors by their Shopify order, to route Shopify webhooks to the mirror.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 08:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_order_mirrors_connection_shopify_order",
        "order_mirrors",
        ["connection_id", "shopify_order_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_order_mirrors_connection_shopify_order", table_name="order_mirrors")
