"""What the store hands out: frozen snapshots of rows, never live ORM objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class LeaseLost(RuntimeError):
    """The claimed item is no longer leased by this worker; the whole unit was rolled back."""


class WorkKind(StrEnum):
    """The queues a worker claims from."""

    INBOX = "inbox"  # deliveries: webhooks, reconciliation findings, merchant actions
    DEADLINE = "deadline"  # moments an order must be looked at again
    OUTBOX = "outbox"  # decided actions on the platforms
    STOCK = "stock"  # SKUs whose TikTok stock must follow a change on Shopify


@dataclass(frozen=True)
class Fence:
    """Who holds a claim and which claim it is: every write about a claimed item names both.

    `attempt` is the item's attempt count as the claim set it; a later claim of the same item
    (after the lease ran out) has another, so the earlier holder's writes match no row.
    """

    worker_id: str
    attempt: int


@dataclass(frozen=True)
class WorkerRecord:
    """One worker process, as its heartbeat row says."""

    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    stop_reason: str | None


class NotFound(LookupError):
    """No row with that id."""


@dataclass(frozen=True)
class ConnectionRecord:
    """One TikTok shop linked to one Shopify store, secrets already decrypted."""

    id: int
    name: str
    status: str
    tiktok_app_key: str | None
    tiktok_app_secret: str | None
    tiktok_access_token: str | None
    tiktok_refresh_token: str | None
    tiktok_token_expires_at: datetime | None
    tiktok_refresh_expires_at: datetime | None
    tiktok_token_lease_owner: str | None
    tiktok_token_lease_until: datetime | None
    tiktok_shop_id: str | None
    tiktok_shop_cipher: str | None
    tiktok_region: str | None
    tiktok_api_base_url: str | None
    tiktok_auth_base_url: str | None
    shopify_domain: str | None
    shopify_api_base_url: str | None
    shopify_access_token: str | None
    shopify_auth: str
    shopify_client_id: str | None
    shopify_token_expires_at: datetime | None
    shopify_refresh_token: str | None
    shopify_refresh_expires_at: datetime | None
    shopify_token_lease_owner: str | None
    shopify_token_lease_until: datetime | None
    shopify_client_secret: str | None
    shopify_previous_client_secret: str | None
    shopify_location_id: str | None
    holdback_minutes: int
    unpaid_window_minutes: int
    inventory_behaviour: str
    carrier_mapping: Mapping[str, str]
    timezone: str
    stock_primary: str
    stock_sync_minutes: int
    last_stock_sync_at: datetime | None
    stock_places: Mapping[str, Any] | None
    create_after_holdback: bool
    restock_returns: bool
    last_reconciled_at: datetime | None
    last_polled_at: datetime | None
    reconcile_cursor: str | None
    last_reconcile_error: str | None
    reconnect_reason: str | None
    webhook_status: Mapping[str, Any] | None
    settings_version: int
    created_at: datetime


@dataclass(frozen=True)
class InboxItem:
    """One delivery received (webhook, reconciliation finding or merchant action), as stored."""

    id: int
    source: str
    delivery_key: str
    topic: str
    connection_id: int | None
    headers: Mapping[str, Any]
    body: bytes
    received_at: datetime
    status: str
    attempts: int
    next_attempt_at: datetime
    locked_by: str | None
    locked_until: datetime | None
    last_error: str | None
    processed_at: datetime | None


@dataclass(frozen=True)
class OutboxItem:
    """One decided action waiting to run (or run); `tiktok_order_id` comes from its mirror."""

    id: int
    connection_id: int
    order_mirror_id: int | None
    tiktok_order_id: str | None
    kind: str
    payload: Mapping[str, Any]
    idempotency_key: str
    priority: int
    status: str
    attempts: int
    next_attempt_at: datetime
    locked_by: str | None
    locked_until: datetime | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
    progress: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class DeadlineItem:
    """A point in time at which an order must be looked at again (e.g. the holdback's end)."""

    id: int
    order_mirror_id: int
    connection_id: int
    tiktok_order_id: str
    kind: str
    due_at: datetime
    locked_by: str | None
    locked_until: datetime | None
    attempts: int = 0
    not_before: datetime | None = None
    last_error: str | None = None
    failed_at: datetime | None = None


@dataclass(frozen=True)
class MirrorRow:
    """One TikTok order's mirror: the domain's serialised state plus its listing projections."""

    id: int
    connection_id: int
    tiktok_order_id: str
    state: Mapping[str, Any] | None
    version: int
    phase: str | None
    tiktok_status: str | None
    shopify_order_id: str | None
    shopify_order_name: str | None
    tiktok_created_at: datetime | None
    paid_at: datetime | None
    holdback_ends_at: datetime | None
    cancel_request_deadline: datetime | None
    needs_attention: bool
    attention_reason: str | None
    created_at: datetime
    updated_at: datetime
    stuck_reason: str | None = None


@dataclass(frozen=True)
class TimelineEntry:
    """One line of an order's explanation (workflow.md rule 10)."""

    id: int
    order_mirror_id: int
    at: datetime
    kind: str
    summary: str
    detail: Mapping[str, Any] | None
