"""Real connections: Shopify tokens from OAuth or client credentials that expire and renew, one
renewal at a time per platform, and connections that wait for the merchant to reconnect.

- `connections.status`: also `setting_up` (web UI, one platform still to connect) and
  `needs_reconnect` (a platform revoked access; work waits, nothing is lost);
- `connections.shopify_auth`, `shopify_client_id`, `shopify_token_expires_at`,
  `shopify_refresh_token`, `shopify_refresh_expires_at`, `tiktok_refresh_expires_at`;
- `connections.{shopify,tiktok}_token_lease_owner/_until`: who renews the tokens right now;
- `connections.reconnect_reason`: why the connection needs reconnecting;
- `connections.webhook_status`: the last check of both platforms' webhook subscriptions.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 15:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen column type (see 0001).
TIME = sa.DateTime(timezone=True)
JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
OLD_STATUSES = "status IN ('active', 'paused', 'revoked')"
NEW_STATUSES = "status IN ('active', 'paused', 'revoked', 'setting_up', 'needs_reconnect')"
AUTH_MODES = "shopify_auth IN ('static', 'authorization_code', 'client_credentials')"


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_constraint(op.f("ck_connections_status"), type_="check")
        batch.create_check_constraint(op.f("ck_connections_status"), NEW_STATUSES)
        batch.add_column(
            sa.Column("shopify_auth", sa.String(32), nullable=False, server_default="static")
        )
        batch.add_column(sa.Column("shopify_client_id", sa.String(200)))
        batch.add_column(sa.Column("shopify_token_expires_at", TIME))
        batch.add_column(sa.Column("shopify_refresh_token", sa.Text))
        batch.add_column(sa.Column("shopify_refresh_expires_at", TIME))
        batch.add_column(sa.Column("shopify_token_lease_owner", sa.String(200)))
        batch.add_column(sa.Column("shopify_token_lease_until", TIME))
        batch.add_column(sa.Column("tiktok_refresh_expires_at", TIME))
        batch.add_column(sa.Column("tiktok_token_lease_owner", sa.String(200)))
        batch.add_column(sa.Column("tiktok_token_lease_until", TIME))
        batch.add_column(sa.Column("reconnect_reason", sa.Text))
        batch.add_column(sa.Column("webhook_status", JSON_TYPE))
        batch.create_check_constraint(op.f("ck_connections_shopify_auth"), AUTH_MODES)


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_constraint(op.f("ck_connections_shopify_auth"), type_="check")
        for name in (
            "webhook_status",
            "reconnect_reason",
            "tiktok_token_lease_until",
            "tiktok_token_lease_owner",
            "tiktok_refresh_expires_at",
            "shopify_token_lease_until",
            "shopify_token_lease_owner",
            "shopify_refresh_expires_at",
            "shopify_refresh_token",
            "shopify_token_expires_at",
            "shopify_client_id",
            "shopify_auth",
        ):
            batch.drop_column(name)
        batch.drop_constraint(op.f("ck_connections_status"), type_="check")
        batch.create_check_constraint(op.f("ck_connections_status"), OLD_STATUSES)
