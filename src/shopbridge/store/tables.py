"""The durable schema: one `metadata`, migrated by Alembic (`store/migrations/`).

Rows are addressed by integer ids; TikTok ids are strings (64-bit, never numbers); times are
aware UTC (`UTCDateTime`); raw webhook bodies are kept as the exact bytes received.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from shopbridge.store.types import UTCDateTime

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# 64-bit ids on PostgreSQL; SQLite only auto-numbers a column declared exactly INTEGER.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def _id() -> sa.Column[int]:
    return sa.Column("id", Id, primary_key=True, autoincrement=True)


def _fk(name: str, target: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, Id, sa.ForeignKey(target, ondelete="CASCADE"), nullable=nullable)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# setting_up: created from the web UI, one platform still to connect; needs_reconnect: a platform
# revoked its access (uninstalled, deauthorized, tokens refused): work waits, nothing is lost.
CONNECTION_STATUSES = ("active", "paused", "revoked", "setting_up", "needs_reconnect")
# How shopbridge gets Shopify access tokens: a pasted legacy admin token, the install
# (authorization-code) flow with expiring tokens, or the client-credentials grant.
SHOPIFY_AUTH_MODES = ("static", "authorization_code", "client_credentials")
INVENTORY_BEHAVIOURS = ("DECREMENT_OBEYING_POLICY", "DECREMENT_IGNORING_POLICY")
INBOX_SOURCES = ("tiktok", "shopify", "reconcile", "merchant")
INBOX_STATUSES = ("pending", "done", "ignored", "malformed", "failed")
OUTBOX_STATUSES = ("pending", "done", "failed", "cancelled")
TIMELINE_KINDS = ("event", "decision", "action", "result", "flag", "note")
# pending: a push is due; synced: TikTok shows what the rules give; failed: pushes gave up (Retry);
# unlinked: no TikTok or no Shopify SKU matches; not_synced: the merchant said "do not sync".
STOCK_STATUSES = ("pending", "synced", "failed", "unlinked", "not_synced")
STOCK_HISTORY_KINDS = ("shopify", "tiktok", "rule", "failed", "link", "sync")
STOCK_SYNC_STATUSES = ("requested", "running", "done", "failed")
STOCK_PRIMARY = ("shopify", "tiktok")

# Columns that hold credentials; the Store encrypts them with its SecretBox.
SECRET_CONNECTION_COLUMNS = frozenset(
    {
        "tiktok_app_secret",
        "tiktok_access_token",
        "tiktok_refresh_token",
        "shopify_access_token",
        "shopify_refresh_token",
        "shopify_client_secret",
        "shopify_previous_client_secret",
    }
)

connections = sa.Table(
    "connections",
    metadata,
    _id(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="active"),
    sa.Column("tiktok_app_key", sa.String(100)),
    sa.Column("tiktok_app_secret", sa.Text),
    sa.Column("tiktok_access_token", sa.Text),
    sa.Column("tiktok_refresh_token", sa.Text),
    sa.Column("tiktok_token_expires_at", UTCDateTime),
    sa.Column("tiktok_refresh_expires_at", UTCDateTime),
    # Who renews a platform's tokens now, and until when: one process at a time, because a
    # refresh rotates the refresh token and two racing refreshes could lose it.
    sa.Column("tiktok_token_lease_owner", sa.String(200)),
    sa.Column("tiktok_token_lease_until", UTCDateTime),
    sa.Column("tiktok_shop_id", sa.String(64), unique=True),
    sa.Column("tiktok_shop_cipher", sa.String(200)),
    sa.Column("tiktok_region", sa.String(8)),
    sa.Column("tiktok_api_base_url", sa.String(500)),
    sa.Column("tiktok_auth_base_url", sa.String(500)),
    sa.Column("shopify_domain", sa.String(255), unique=True),
    sa.Column("shopify_api_base_url", sa.String(500)),
    sa.Column("shopify_access_token", sa.Text),
    sa.Column("shopify_auth", sa.String(32), nullable=False, server_default="static"),
    sa.Column("shopify_client_id", sa.String(200)),
    sa.Column("shopify_token_expires_at", UTCDateTime),
    sa.Column("shopify_refresh_token", sa.Text),
    sa.Column("shopify_refresh_expires_at", UTCDateTime),
    sa.Column("shopify_token_lease_owner", sa.String(200)),
    sa.Column("shopify_token_lease_until", UTCDateTime),
    sa.Column("shopify_client_secret", sa.Text),
    sa.Column("shopify_previous_client_secret", sa.Text),
    sa.Column("shopify_location_id", sa.String(100)),
    # TikTok policy (workflow.md): the holdback and unpaid window go up per shop, never down.
    sa.Column("holdback_minutes", sa.Integer, nullable=False, server_default="60"),
    sa.Column("unpaid_window_minutes", sa.Integer, nullable=False, server_default="1440"),
    # Never BYPASS: an order that claims no inventory reserves nothing (shopify_api.md).
    sa.Column(
        "inventory_behaviour",
        sa.String(32),
        nullable=False,
        server_default="DECREMENT_IGNORING_POLICY",
    ),
    # Shopify tracking company -> TikTok shipping provider name or id.
    sa.Column("carrier_mapping", Json, nullable=False, server_default=sa.text("'{}'")),
    sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
    # Stock (domain/stock.py): whose count wins when a SKU is first linked (afterwards Shopify
    # leads), how often every linked SKU is compared in full, and when that last started.
    sa.Column("stock_primary", sa.String(16), nullable=False, server_default="shopify"),
    sa.Column("stock_sync_minutes", sa.Integer, nullable=False, server_default="60"),
    sa.Column("last_stock_sync_at", UTCDateTime),
    # The Shopify locations and TikTok warehouses the last full sync found, for the mapping form:
    # {"locations": [[id, name], ...], "warehouses": [[id, name, is_default], ...]}.
    sa.Column("stock_places", Json),
    # Multi-item orders: create the Shopify order only after the holdback (for 3PLs that ignore
    # holds), and restock returned units automatically.
    sa.Column("create_after_holdback", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("restock_returns", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("last_reconciled_at", UTCDateTime),
    # When a worker last looked for new TikTok orders between reconciliation passes.
    sa.Column("last_polled_at", UTCDateTime),
    sa.Column("reconcile_cursor", sa.Text),
    # Why the last reconciliation pass failed, NULL once one succeeds (shown in Settings).
    sa.Column("last_reconcile_error", sa.Text),
    # Why the connection needs reconnecting (status needs_reconnect), in the merchant's words.
    sa.Column("reconnect_reason", sa.Text),
    # The last check of both platforms' webhook subscriptions (engine/subscriptions.py).
    sa.Column("webhook_status", Json),
    # Bumped on every change of what workers cache (credentials, policy, mapping): each worker
    # compares it on use, so a change reaches every process within seconds.
    sa.Column("settings_version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.CheckConstraint(_in("status", CONNECTION_STATUSES), name="status"),
    sa.CheckConstraint(_in("shopify_auth", SHOPIFY_AUTH_MODES), name="shopify_auth"),
    sa.CheckConstraint("holdback_minutes >= 60", name="holdback_minutes"),
    sa.CheckConstraint("unpaid_window_minutes >= 1440", name="unpaid_window_minutes"),
    sa.CheckConstraint(
        _in("inventory_behaviour", INVENTORY_BEHAVIOURS), name="inventory_behaviour"
    ),
    sa.CheckConstraint(_in("stock_primary", STOCK_PRIMARY), name="stock_primary"),
    sa.CheckConstraint("stock_sync_minutes >= 5", name="stock_sync_minutes"),
)

users = sa.Table(
    "users",
    metadata,
    _id(),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

memberships = sa.Table(
    "memberships",
    metadata,
    _id(),
    _fk("user_id", "users.id"),
    _fk("connection_id", "connections.id"),
    sa.UniqueConstraint("user_id", "connection_id"),
)

# Signed-in browsers (web/sessions.py). The cookie carries a random id; the row keeps only its
# SHA-256, so a copy of this table opens no session. Ended by logout, a password change, the
# idle timeout or the absolute lifetime.
sessions = sa.Table(
    "sessions",
    metadata,
    _id(),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    _fk("user_id", "users.id"),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
    sa.Column("user_agent", sa.String(300)),
    sa.Column("ip", sa.String(64)),
    sa.Index("ix_sessions_user_id", "user_id"),
)

# Login attempts not (yet) proven right (web/throttle.py): each is written before its password
# is checked and deleted once it was right, so concurrent guesses count too. `email_key` is the
# SHA-256 of the normalised email (a typed-in password in the email field is not kept); `ip` is
# the client's address, or its /64 network for IPv6. Rows older than the window are deleted.
login_attempts = sa.Table(
    "login_attempts",
    metadata,
    _id(),
    sa.Column("email_key", sa.String(64), nullable=False),
    sa.Column("ip", sa.String(64), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Index("ix_login_attempts_ip_at", "ip", "at"),
    sa.Index("ix_login_attempts_at", "at"),
)

order_mirrors = sa.Table(
    "order_mirrors",
    metadata,
    _id(),
    _fk("connection_id", "connections.id"),
    sa.Column("tiktok_order_id", sa.String(64), nullable=False),
    # The domain's serialised mirror; NULL only while a new row has not been saved yet.
    sa.Column("state", Json),
    sa.Column("version", sa.Integer, nullable=False, server_default="0"),
    # Projections of `state` for listing and filtering in the merchant UI.
    sa.Column("phase", sa.String(64)),
    sa.Column("tiktok_status", sa.String(64)),
    sa.Column("shopify_order_id", sa.String(200)),
    sa.Column("shopify_order_name", sa.String(64)),
    sa.Column("tiktok_created_at", UTCDateTime),
    sa.Column("paid_at", UTCDateTime),
    sa.Column("holdback_ends_at", UTCDateTime),
    sa.Column("cancel_request_deadline", UTCDateTime),
    sa.Column("needs_attention", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("attention_reason", sa.Text),
    # Work about this order that failed outside the domain's reach (a deadline that could not
    # be processed): shown with a Retry until the merchant presses it.
    sa.Column("stuck_reason", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("connection_id", "tiktok_order_id"),
    # Newest-first lists scan these backwards; a DESC index would gain nothing on either database.
    sa.Index("ix_order_mirrors_connection_updated", "connection_id", "updated_at"),
    # The merchant's list pages by (created_at, id) from a cursor (store/listing.py): each
    # listing walks one of these three from the cursor on, whatever the number of orders.
    sa.Index("ix_order_mirrors_connection_created_id", "connection_id", "created_at", "id"),
    sa.Index(
        "ix_order_mirrors_connection_phase_created_id",
        "connection_id",
        "phase",
        "created_at",
        "id",
    ),
    # Few orders need attention: a partial index keeps their count and list as small as they
    # are. The condition is spelled as each database writes `needs_attention == true()`, so that
    # its planner sees the query's WHERE imply the index's.
    sa.Index(
        "ix_order_mirrors_attention",
        "connection_id",
        "created_at",
        "id",
        sqlite_where=sa.text("needs_attention = 1"),
        postgresql_where=sa.text("needs_attention = true"),
    ),
    # Search by the start of an order number (store/listing.py). PostgreSQL's LIKE 'prefix%'
    # uses an index only with text_pattern_ops (or the C collation); SQLite ignores the option
    # and answers the same search with a range on the plain index (its own unique index on the
    # TikTok id would do, but one declaration for both databases keeps the schema single).
    sa.Index(
        "ix_order_mirrors_connection_tiktok_prefix",
        "connection_id",
        "tiktok_order_id",
        postgresql_ops={"tiktok_order_id": "text_pattern_ops"},
    ),
    sa.Index(
        "ix_order_mirrors_connection_shopify_name",
        "connection_id",
        "shopify_order_name",
        postgresql_ops={"shopify_order_name": "text_pattern_ops"},
    ),
    # Shopify webhooks name the Shopify order; they are routed to the mirror through this.
    sa.Index("ix_order_mirrors_connection_shopify_order", "connection_id", "shopify_order_id"),
)

inbox = sa.Table(
    "inbox",
    metadata,
    _id(),
    sa.Column("source", sa.String(16), nullable=False),
    # The platform's own id for the delivery (TikTok tts_notification_id, Shopify event id).
    sa.Column("delivery_key", sa.String(200), nullable=False),
    sa.Column("topic", sa.String(100), nullable=False),
    # NULL when the shop is unknown: the delivery is still kept (workflow.md rule 7).
    _fk("connection_id", "connections.id", nullable=True),
    sa.Column("headers", Json, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("locked_by", sa.String(200)),
    sa.Column("locked_until", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("processed_at", UTCDateTime),
    sa.UniqueConstraint("source", "delivery_key"),
    sa.CheckConstraint(_in("source", INBOX_SOURCES), name="source"),
    sa.CheckConstraint(_in("status", INBOX_STATUSES), name="status"),
    sa.Index("ix_inbox_claim", "status", "next_attempt_at"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    _id(),
    _fk("connection_id", "connections.id"),
    _fk("order_mirror_id", "order_mirrors.id", nullable=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("payload", Json, nullable=False),
    sa.Column("idempotency_key", sa.String(300), nullable=False, unique=True),
    # Lower runs first: reserving stock beats releases and tracking (workflow.md rule 2).
    sa.Column("priority", sa.Integer, nullable=False, server_default="100"),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("locked_by", sa.String(200)),
    sa.Column("locked_until", UTCDateTime),
    sa.Column("last_error", sa.Text),
    # What a resumable action has already done (e.g. the Shopify order it created), saved by
    # the lease holder between steps so that the next holder carries on instead of redoing.
    sa.Column("progress", Json),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),
    sa.Index("ix_outbox_claim", "status", "priority", "next_attempt_at"),
    sa.Index("ix_outbox_order_mirror_id", "order_mirror_id"),
)

deadlines = sa.Table(
    "deadlines",
    metadata,
    _id(),
    _fk("order_mirror_id", "order_mirrors.id"),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Column("locked_by", sa.String(200)),
    sa.Column("locked_until", UTCDateTime),
    # Claims count attempts (the lease's fence); a failed run waits until `not_before`; after
    # the last attempt `failed_at` is set and the deadline waits for the merchant's Retry.
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("not_before", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("failed_at", UTCDateTime),
    sa.UniqueConstraint("order_mirror_id", "kind"),
    sa.Index("ix_deadlines_due_at", "due_at"),
)

timeline = sa.Table(
    "timeline",
    metadata,
    _id(),
    _fk("order_mirror_id", "order_mirrors.id"),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("detail", Json),
    sa.CheckConstraint(_in("kind", TIMELINE_KINDS), name="kind"),
    sa.Index("ix_timeline_order_mirror_at", "order_mirror_id", "at"),
)

# One row per worker process: its heartbeat says it is alive. A worker that finds a sibling on
# its own host whose process is gone releases that sibling's leases at once (no lease wait).
workers = sa.Table(
    "workers",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("heartbeat_at", UTCDateTime, nullable=False),
    sa.Column("stopped_at", UTCDateTime),
    sa.Column("stop_reason", sa.String(200)),
    sa.Index("ix_workers_host_stopped", "host", "stopped_at"),
)

# A scaled clock shared by every process on this database (rehearsals, demos): simulated time is
# `epoch + (wall time - epoch) * factor`, so processes started at different moments agree.
clock_anchor = sa.Table(
    "clock_anchor",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("factor", sa.Float, nullable=False),
    sa.Column("epoch", sa.Float, nullable=False),  # wall-clock Unix seconds at the anchor
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("id = 1", name="single_row"),
    sa.CheckConstraint("factor > 0", name="factor"),
)

# One row per alert digest (alerts.py): claimed before it is sent, so that of several processes
# on this database one sends each digest. `fingerprint` names the set of alerts it carried ("" for
# an all-clear: nothing sent, but the same problems coming back are news); `results` says per
# channel what happened, as JSON text, NULL while the digest is being sent.
alert_digests = sa.Table(
    "alert_digests",
    metadata,
    _id(),
    sa.Column("sent_at", UTCDateTime, nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("results", sa.Text),
    sa.Index("ix_alert_digests_sent_at", "sent_at"),
)

# Webhook silence (alerts.py) asks for each connection's newest delivery from each platform.
sa.Index(
    "ix_inbox_connection_source_received",
    inbox.c.connection_id,
    inbox.c.source,
    inbox.c.received_at,
)


# -- stock (domain/stock.py, engine/stock.py) -------------------------------------------------

# One row per TikTok seller SKU of a connection: the link between the platforms (the Shopify SKU
# and inventory item, the TikTok product and SKU ids), what each side showed last, and the SKU's
# place in the stock queue. A change marks the row due (`due_at`, after a short debounce, so a
# burst is one push) and counts `changes`; a claim leases it like any queue item (`attempts` is
# the fence and only grows) and remembers the count it saw, so a change made during a push makes
# the row due again when the push finishes.
stock_skus = sa.Table(
    "stock_skus",
    metadata,
    _id(),
    _fk("connection_id", "connections.id"),
    sa.Column("seller_sku", sa.String(200), nullable=False),
    sa.Column("shopify_sku", sa.String(200)),
    sa.Column("inventory_item_id", sa.String(200)),
    sa.Column("tiktok_product_id", sa.String(64)),
    sa.Column("tiktok_sku_id", sa.String(64)),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("shopify_levels", Json),  # Shopify location id -> available, as last read
    # The `changes` count when `shopify_levels` was read by a full sync's catalog walk: a push
    # that covers exactly that count may use them instead of reading Shopify again.
    sa.Column("levels_changes", sa.Integer),
    sa.Column("tiktok_levels", Json),  # TikTok warehouse id -> quantity, as last sent or read
    sa.Column("last_quantity", sa.Integer),
    sa.Column("synced_at", UTCDateTime),
    # The first link applied the merchant's choice of whose count wins; after that Shopify leads.
    sa.Column("aligned", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("due_at", UTCDateTime),
    sa.Column("changes", sa.Integer, nullable=False, server_default="0"),
    sa.Column("claimed_changes", sa.Integer),
    sa.Column("locked_by", sa.String(200)),
    sa.Column("locked_until", UTCDateTime),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("connection_id", "seller_sku"),
    sa.CheckConstraint(_in("status", STOCK_STATUSES), name="status"),
    sa.Index("ix_stock_skus_due_at", "due_at"),
    sa.Index("ix_stock_skus_connection_item", "connection_id", "inventory_item_id"),
    sa.Index("ix_stock_skus_connection_shopify_sku", "connection_id", "shopify_sku"),
)

# What happened to a SKU's stock, newest last: changes seen on Shopify, updates sent to TikTok
# with the rule that gave them, failures, links.
stock_history = sa.Table(
    "stock_history",
    metadata,
    _id(),
    _fk("stock_sku_id", "stock_skus.id"),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.CheckConstraint(_in("kind", STOCK_HISTORY_KINDS), name="kind"),
    sa.Index("ix_stock_history_sku_at", "stock_sku_id", "at"),
)

# The connection's stock rules (seller_sku "") and any SKU's overrides; NULL inherits.
stock_rules = sa.Table(
    "stock_rules",
    metadata,
    _id(),
    _fk("connection_id", "connections.id"),
    sa.Column("seller_sku", sa.String(200), nullable=False, server_default=""),
    sa.Column("locations", Json),
    sa.Column("buffer_units", sa.Integer),
    sa.Column("buffer_percent", sa.Integer),
    sa.Column("low_stock_threshold", sa.Integer),
    sa.Column("max_quantity", sa.Integer),
    sa.Column("sync", sa.Boolean),
    sa.UniqueConstraint("connection_id", "seller_sku"),
)

# SKUs whose codes differ between the platforms: this TikTok seller SKU is that Shopify SKU.
sku_links = sa.Table(
    "sku_links",
    metadata,
    _id(),
    _fk("connection_id", "connections.id"),
    sa.Column("tiktok_sku", sa.String(200), nullable=False),
    sa.Column("shopify_sku", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("connection_id", "tiktok_sku"),
    sa.UniqueConstraint("connection_id", "shopify_sku"),
)

# Which TikTok warehouse a Shopify location's stock goes to.
warehouse_map = sa.Table(
    "warehouse_map",
    metadata,
    _id(),
    _fk("connection_id", "connections.id"),
    sa.Column("location_id", sa.String(200), nullable=False),
    sa.Column("warehouse_id", sa.String(64), nullable=False),
    sa.UniqueConstraint("connection_id", "location_id"),
)

# Full syncs (every linked SKU compared and corrected): requested from the UI or the schedule,
# run by one process, with progress for the CLI's line and the UI's bar.
stock_syncs = sa.Table(
    "stock_syncs",
    metadata,
    _id(),
    _fk("connection_id", "connections.id"),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("stage", sa.String(200), nullable=False, server_default=""),
    sa.Column("total", sa.Integer, nullable=False, server_default="0"),
    sa.Column("done", sa.Integer, nullable=False, server_default="0"),
    sa.Column("corrected", sa.Integer, nullable=False, server_default="0"),
    sa.Column("problems", sa.Integer, nullable=False, server_default="0"),
    sa.Column("message", sa.Text),
    sa.Column("run_by", sa.String(200)),
    sa.Column("requested_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime),
    sa.Column("heartbeat_at", UTCDateTime),
    sa.Column("finished_at", UTCDateTime),
    sa.CheckConstraint(_in("status", STOCK_SYNC_STATUSES), name="status"),
    sa.Index("ix_stock_syncs_connection_requested", "connection_id", "requested_at"),
)
