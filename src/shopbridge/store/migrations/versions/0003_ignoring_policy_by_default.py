"""New connections claim stock with DECREMENT_IGNORING_POLICY by default.

TikTok has already sold the unit when its order reaches us, so the mirror must commit stock even
where the Shopify variant's policy would deny it (shopify_api.md §1; issue 4); OBEYING could
refuse the order with INVENTORY_CLAIM_FAILED and leave a sold TikTok order unmirrored.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 08:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.alter_column("inventory_behaviour", server_default="DECREMENT_IGNORING_POLICY")


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.alter_column("inventory_behaviour", server_default="DECREMENT_OBEYING_POLICY")
