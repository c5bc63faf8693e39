"""Initial schema: connections, users, order mirrors, inbox, outbox, deadlines, timeline.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 07:45:06.268252
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types in tables.py at this revision: a migration must not change
# when the application's types do. (UTCDateTime only converts values; its column is a DateTime.)
ID_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "connections",
        sa.Column("id", ID_TYPE, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("tiktok_app_key", sa.String(length=100), nullable=True),
        sa.Column("tiktok_app_secret", sa.Text(), nullable=True),
        sa.Column("tiktok_access_token", sa.Text(), nullable=True),
        sa.Column("tiktok_refresh_token", sa.Text(), nullable=True),
        sa.Column("tiktok_token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tiktok_shop_id", sa.String(length=64), nullable=True),
        sa.Column("tiktok_shop_cipher", sa.String(length=200), nullable=True),
        sa.Column("tiktok_region", sa.String(length=8), nullable=True),
        sa.Column("tiktok_api_base_url", sa.String(length=500), nullable=True),
        sa.Column("tiktok_auth_base_url", sa.String(length=500), nullable=True),
        sa.Column("shopify_domain", sa.String(length=255), nullable=True),
        sa.Column("shopify_api_base_url", sa.String(length=500), nullable=True),
        sa.Column("shopify_access_token", sa.Text(), nullable=True),
        sa.Column("shopify_client_secret", sa.Text(), nullable=True),
        sa.Column("shopify_previous_client_secret", sa.Text(), nullable=True),
        sa.Column("shopify_location_id", sa.String(length=100), nullable=True),
        sa.Column("holdback_minutes", sa.Integer(), server_default="60", nullable=False),
        sa.Column("unpaid_window_minutes", sa.Integer(), server_default="1440", nullable=False),
        sa.Column(
            "inventory_behaviour",
            sa.String(length=32),
            server_default="DECREMENT_OBEYING_POLICY",
            nullable=False,
        ),
        sa.Column("carrier_mapping", JSON_TYPE, server_default=sa.text("'{}'"), nullable=False),
        sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column("last_reconciled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reconcile_cursor", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "inventory_behaviour IN ('DECREMENT_OBEYING_POLICY', 'DECREMENT_IGNORING_POLICY')",
            name=op.f("ck_connections_inventory_behaviour"),
        ),
        sa.CheckConstraint(
            "status IN ('active', 'paused', 'revoked')", name=op.f("ck_connections_status")
        ),
        sa.CheckConstraint("holdback_minutes >= 60", name=op.f("ck_connections_holdback_minutes")),
        sa.CheckConstraint(
            "unpaid_window_minutes >= 1440", name=op.f("ck_connections_unpaid_window_minutes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connections")),
        sa.UniqueConstraint("shopify_domain", name=op.f("uq_connections_shopify_domain")),
        sa.UniqueConstraint("tiktok_shop_id", name=op.f("uq_connections_tiktok_shop_id")),
    )
    op.create_table(
        "users",
        sa.Column("id", ID_TYPE, autoincrement=True, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "inbox",
        sa.Column("id", ID_TYPE, autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("delivery_key", sa.String(length=200), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("connection_id", ID_TYPE, nullable=True),
        sa.Column("headers", JSON_TYPE, nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_by", sa.String(length=200), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "source IN ('tiktok', 'shopify', 'reconcile', 'merchant')", name=op.f("ck_inbox_source")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'done', 'ignored', 'malformed', 'failed')",
            name=op.f("ck_inbox_status"),
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_inbox_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint("source", "delivery_key", name=op.f("uq_inbox_source_delivery_key")),
    )
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.create_index("ix_inbox_claim", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "memberships",
        sa.Column("id", ID_TYPE, autoincrement=True, nullable=False),
        sa.Column("user_id", ID_TYPE, nullable=False),
        sa.Column("connection_id", ID_TYPE, nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_memberships_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_memberships_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
        sa.UniqueConstraint(
            "user_id", "connection_id", name=op.f("uq_memberships_user_id_connection_id")
        ),
    )
    op.create_table(
        "order_mirrors",
        sa.Column("id", ID_TYPE, autoincrement=True, nullable=False),
        sa.Column("connection_id", ID_TYPE, nullable=False),
        sa.Column("tiktok_order_id", sa.String(length=64), nullable=False),
        sa.Column("state", JSON_TYPE, nullable=True),
        sa.Column("version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("phase", sa.String(length=64), nullable=True),
        sa.Column("tiktok_status", sa.String(length=64), nullable=True),
        sa.Column("shopify_order_id", sa.String(length=200), nullable=True),
        sa.Column("shopify_order_name", sa.String(length=64), nullable=True),
        sa.Column("tiktok_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("holdback_ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_request_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("needs_attention", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("attention_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_order_mirrors_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_mirrors")),
        sa.UniqueConstraint(
            "connection_id",
            "tiktok_order_id",
            name=op.f("uq_order_mirrors_connection_id_tiktok_order_id"),
        ),
    )
    with op.batch_alter_table("order_mirrors", schema=None) as batch_op:
        batch_op.create_index(
            "ix_order_mirrors_connection_created", ["connection_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_order_mirrors_connection_phase", ["connection_id", "phase"], unique=False
        )
        batch_op.create_index(
            "ix_order_mirrors_connection_updated", ["connection_id", "updated_at"], unique=False
        )

    op.create_table(
        "deadlines",
        sa.Column("id", ID_TYPE, autoincrement=True, nullable=False),
        sa.Column("order_mirror_id", ID_TYPE, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_by", sa.String(length=200), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_mirror_id"],
            ["order_mirrors.id"],
            name=op.f("fk_deadlines_order_mirror_id_order_mirrors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadlines")),
        sa.UniqueConstraint(
            "order_mirror_id", "kind", name=op.f("uq_deadlines_order_mirror_id_kind")
        ),
    )
    with op.batch_alter_table("deadlines", schema=None) as batch_op:
        batch_op.create_index("ix_deadlines_due_at", ["due_at"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", ID_TYPE, autoincrement=True, nullable=False),
        sa.Column("connection_id", ID_TYPE, nullable=False),
        sa.Column("order_mirror_id", ID_TYPE, nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", JSON_TYPE, nullable=False),
        sa.Column("idempotency_key", sa.String(length=300), nullable=False),
        sa.Column("priority", sa.Integer(), server_default="100", nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_by", sa.String(length=200), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'done', 'failed', 'cancelled')", name=op.f("ck_outbox_status")
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_outbox_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_mirror_id"],
            ["order_mirrors.id"],
            name=op.f("fk_outbox_order_mirror_id_order_mirrors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_idempotency_key")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_claim", ["status", "priority", "next_attempt_at"], unique=False
        )
        batch_op.create_index("ix_outbox_order_mirror_id", ["order_mirror_id"], unique=False)

    op.create_table(
        "timeline",
        sa.Column("id", ID_TYPE, autoincrement=True, nullable=False),
        sa.Column("order_mirror_id", ID_TYPE, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("detail", JSON_TYPE, nullable=True),
        sa.CheckConstraint(
            "kind IN ('event', 'decision', 'action', 'result', 'flag', 'note')",
            name=op.f("ck_timeline_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["order_mirror_id"],
            ["order_mirrors.id"],
            name=op.f("fk_timeline_order_mirror_id_order_mirrors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timeline")),
    )
    with op.batch_alter_table("timeline", schema=None) as batch_op:
        batch_op.create_index(
            "ix_timeline_order_mirror_at", ["order_mirror_id", "at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("timeline", schema=None) as batch_op:
        batch_op.drop_index("ix_timeline_order_mirror_at")

    op.drop_table("timeline")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_order_mirror_id")
        batch_op.drop_index("ix_outbox_claim")

    op.drop_table("outbox")
    with op.batch_alter_table("deadlines", schema=None) as batch_op:
        batch_op.drop_index("ix_deadlines_due_at")

    op.drop_table("deadlines")
    with op.batch_alter_table("order_mirrors", schema=None) as batch_op:
        batch_op.drop_index("ix_order_mirrors_connection_updated")
        batch_op.drop_index("ix_order_mirrors_connection_phase")
        batch_op.drop_index("ix_order_mirrors_connection_created")

    op.drop_table("order_mirrors")
    op.drop_table("memberships")
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_claim")

    op.drop_table("inbox")
    op.drop_table("users")
    op.drop_table("connections")
