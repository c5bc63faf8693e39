"""Stock: TikTok follows Shopify, SKU by SKU, under the merchant's rules.

- `stock_skus`: each TikTok seller SKU's link to Shopify, last counts, and place in the queue;
- `stock_history`: what happened to a SKU's stock;
- `stock_rules`, `sku_links`, `warehouse_map`: the merchant's rules, SKU codes that differ, and
  which TikTok warehouse each Shopify location feeds;
- `stock_syncs`: full syncs and their progress;
- connections: whose count wins at first link, the full-sync interval, the last full sync.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen column types (see 0001).
ID_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)
JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _id() -> sa.Column[int]:
    return sa.Column("id", ID_TYPE, autoincrement=True, nullable=False)


def _connection(table: str) -> list[Any]:
    return [
        sa.Column("connection_id", ID_TYPE, nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f(f"fk_{table}_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    ]


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.add_column(
            sa.Column("stock_primary", sa.String(16), nullable=False, server_default="shopify")
        )
        batch.add_column(
            sa.Column("stock_sync_minutes", sa.Integer, nullable=False, server_default="60")
        )
        batch.add_column(sa.Column("last_stock_sync_at", TIME))
        batch.add_column(sa.Column("stock_places", JSON_TYPE))
        batch.create_check_constraint(
            op.f("ck_connections_stock_primary"), "stock_primary IN ('shopify', 'tiktok')"
        )
        batch.create_check_constraint(
            op.f("ck_connections_stock_sync_minutes"), "stock_sync_minutes >= 5"
        )
    op.create_table(
        "stock_skus",
        _id(),
        *_connection("stock_skus"),
        sa.Column("seller_sku", sa.String(200), nullable=False),
        sa.Column("shopify_sku", sa.String(200)),
        sa.Column("inventory_item_id", sa.String(200)),
        sa.Column("tiktok_product_id", sa.String(64)),
        sa.Column("tiktok_sku_id", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("shopify_levels", JSON_TYPE),
        sa.Column("levels_changes", sa.Integer),
        sa.Column("tiktok_levels", JSON_TYPE),
        sa.Column("last_quantity", sa.Integer),
        sa.Column("synced_at", TIME),
        sa.Column("aligned", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("due_at", TIME),
        sa.Column("changes", sa.Integer, nullable=False, server_default="0"),
        sa.Column("claimed_changes", sa.Integer),
        sa.Column("locked_by", sa.String(200)),
        sa.Column("locked_until", TIME),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column("updated_at", TIME, nullable=False),
        sa.UniqueConstraint(
            "connection_id", "seller_sku", name=op.f("uq_stock_skus_connection_id_seller_sku")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'synced', 'failed', 'unlinked', 'not_synced')",
            name=op.f("ck_stock_skus_status"),
        ),
    )
    op.create_index("ix_stock_skus_due_at", "stock_skus", ["due_at"])
    op.create_index(
        "ix_stock_skus_connection_item", "stock_skus", ["connection_id", "inventory_item_id"]
    )
    op.create_index(
        "ix_stock_skus_connection_shopify_sku", "stock_skus", ["connection_id", "shopify_sku"]
    )
    op.create_table(
        "stock_history",
        _id(),
        sa.Column("stock_sku_id", ID_TYPE, nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["stock_sku_id"],
            ["stock_skus.id"],
            name=op.f("fk_stock_history_stock_sku_id_stock_skus"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_history")),
        sa.CheckConstraint(
            "kind IN ('shopify', 'tiktok', 'rule', 'failed', 'link', 'sync')",
            name=op.f("ck_stock_history_kind"),
        ),
    )
    op.create_index("ix_stock_history_sku_at", "stock_history", ["stock_sku_id", "at"])
    op.create_table(
        "stock_rules",
        _id(),
        *_connection("stock_rules"),
        sa.Column("seller_sku", sa.String(200), nullable=False, server_default=""),
        sa.Column("locations", JSON_TYPE),
        sa.Column("buffer_units", sa.Integer),
        sa.Column("buffer_percent", sa.Integer),
        sa.Column("low_stock_threshold", sa.Integer),
        sa.Column("max_quantity", sa.Integer),
        sa.Column("sync", sa.Boolean),
        sa.UniqueConstraint(
            "connection_id", "seller_sku", name=op.f("uq_stock_rules_connection_id_seller_sku")
        ),
    )
    op.create_table(
        "sku_links",
        _id(),
        *_connection("sku_links"),
        sa.Column("tiktok_sku", sa.String(200), nullable=False),
        sa.Column("shopify_sku", sa.String(200), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.UniqueConstraint(
            "connection_id", "tiktok_sku", name=op.f("uq_sku_links_connection_id_tiktok_sku")
        ),
        sa.UniqueConstraint(
            "connection_id", "shopify_sku", name=op.f("uq_sku_links_connection_id_shopify_sku")
        ),
    )
    op.create_table(
        "warehouse_map",
        _id(),
        *_connection("warehouse_map"),
        sa.Column("location_id", sa.String(200), nullable=False),
        sa.Column("warehouse_id", sa.String(64), nullable=False),
        sa.UniqueConstraint(
            "connection_id", "location_id", name=op.f("uq_warehouse_map_connection_id_location_id")
        ),
    )
    op.create_table(
        "stock_syncs",
        _id(),
        *_connection("stock_syncs"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(200), nullable=False, server_default=""),
        sa.Column("total", sa.Integer, nullable=False, server_default="0"),
        sa.Column("done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("corrected", sa.Integer, nullable=False, server_default="0"),
        sa.Column("problems", sa.Integer, nullable=False, server_default="0"),
        sa.Column("message", sa.Text),
        sa.Column("run_by", sa.String(200)),
        sa.Column("requested_at", TIME, nullable=False),
        sa.Column("started_at", TIME),
        sa.Column("heartbeat_at", TIME),
        sa.Column("finished_at", TIME),
        sa.CheckConstraint(
            "status IN ('requested', 'running', 'done', 'failed')",
            name=op.f("ck_stock_syncs_status"),
        ),
    )
    op.create_index(
        "ix_stock_syncs_connection_requested", "stock_syncs", ["connection_id", "requested_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_stock_syncs_connection_requested", table_name="stock_syncs")
    op.drop_table("stock_syncs")
    op.drop_table("warehouse_map")
    op.drop_table("sku_links")
    op.drop_table("stock_rules")
    op.drop_index("ix_stock_history_sku_at", table_name="stock_history")
    op.drop_table("stock_history")
    for name in (
        "ix_stock_skus_connection_shopify_sku",
        "ix_stock_skus_connection_item",
        "ix_stock_skus_due_at",
    ):
        op.drop_index(name, table_name="stock_skus")
    op.drop_table("stock_skus")
    with op.batch_alter_table("connections") as batch:
        batch.drop_constraint(op.f("ck_connections_stock_sync_minutes"), type_="check")
        batch.drop_constraint(op.f("ck_connections_stock_primary"), type_="check")
        batch.drop_column("stock_places")
        batch.drop_column("last_stock_sync_at")
        batch.drop_column("stock_sync_minutes")
        batch.drop_column("stock_primary")
