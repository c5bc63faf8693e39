"""Indexes that keep the orders pages as fast at 100k orders as at 1k (issue 14).

- the list pages by a (created_at, id) cursor instead of OFFSET: `(connection_id, created_at,
  id)` replaces `(connection_id, created_at)`, and `(connection_id, phase, created_at, id)`
  replaces `(connection_id, phase)` (its leading columns still answer every phase lookup);
- the "needs attention" count and list read a partial index of those orders only;
- search by the start of a TikTok order id or Shopify order name reads an index on each
  (`text_pattern_ops` on PostgreSQL, where LIKE 'prefix%' needs it; ignored by SQLite).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 00:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_order_mirrors_connection_created", table_name="order_mirrors")
    op.drop_index("ix_order_mirrors_connection_phase", table_name="order_mirrors")
    op.create_index(
        "ix_order_mirrors_connection_created_id",
        "order_mirrors",
        ["connection_id", "created_at", "id"],
    )
    op.create_index(
        "ix_order_mirrors_connection_phase_created_id",
        "order_mirrors",
        ["connection_id", "phase", "created_at", "id"],
    )
    op.create_index(
        "ix_order_mirrors_attention",
        "order_mirrors",
        ["connection_id", "created_at", "id"],
        sqlite_where=sa.text("needs_attention = 1"),
        postgresql_where=sa.text("needs_attention = true"),
    )
    op.create_index(
        "ix_order_mirrors_connection_tiktok_prefix",
        "order_mirrors",
        ["connection_id", "tiktok_order_id"],
        postgresql_ops={"tiktok_order_id": "text_pattern_ops"},
    )
    op.create_index(
        "ix_order_mirrors_connection_shopify_name",
        "order_mirrors",
        ["connection_id", "shopify_order_name"],
        postgresql_ops={"shopify_order_name": "text_pattern_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_order_mirrors_connection_shopify_name", table_name="order_mirrors")
    op.drop_index("ix_order_mirrors_connection_tiktok_prefix", table_name="order_mirrors")
    op.drop_index("ix_order_mirrors_attention", table_name="order_mirrors")
    op.drop_index("ix_order_mirrors_connection_phase_created_id", table_name="order_mirrors")
    op.drop_index("ix_order_mirrors_connection_created_id", table_name="order_mirrors")
    op.create_index(
        "ix_order_mirrors_connection_phase", "order_mirrors", ["connection_id", "phase"]
    )
    op.create_index(
        "ix_order_mirrors_connection_created", "order_mirrors", ["connection_id", "created_at"]
    )
