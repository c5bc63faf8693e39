"""What each shopbridge process counts for Prometheus: one place for the names, one call each.

Two kinds of figures, because the web server and the workers are separate processes:

- **Counted where it happens** (this module): webhooks answered, Shopify points spent and each
  shop's bucket, TikTok rate limits, actions that failed for good, the reservation lag. They live
  in the process that did the work, on prometheus_client's default registry (with the process's
  own CPU, memory and garbage-collector figures). The web's `/metrics` shows the web process's;
  a `shopbridge worker` shows its own on `serve_worker_metrics(port)` (`metrics_port`, off by
  default). `shopbridge serve` runs web and worker in one process, so its `/metrics` has both.
- **Read from the database at scrape time** (`web/health.py`): queue depths and waits, worker
  heartbeats, orders needing attention, connections by status. Every process sees the same
  database, so one scrape of the web gives them for the whole deployment, however many workers.

Callers use the functions, never the metric objects: a label spelled wrong is then a type error,
not a new time series. Label values are bounded sets (platform, reason, command kind, shop
domain), never order ids.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.exposition import start_http_server

from shopbridge.domain import events as ev

# A `_created` timestamp beside every counter doubles the series and no dashboard here uses it.
disable_created_metrics()  # type: ignore[no-untyped-call]  # unannotated upstream

WEBHOOKS_RECEIVED = Counter(
    "shopbridge_webhooks_received",
    "Webhook deliveries answered 200: verified and stored (new, duplicate, ignored or malformed).",
    ["platform"],
)
WEBHOOKS_REFUSED = Counter(
    "shopbridge_webhooks_refused",
    "Webhook requests refused before anything was stored "
    "(signature: 401; too_large: 413; unreadable: 400).",
    ["platform", "reason"],
)
WEBHOOKS_MALFORMED = Counter(
    "shopbridge_webhooks_malformed",
    "Verified webhook deliveries whose body could not be read (stored as malformed).",
    ["platform"],
)
SHOPIFY_POINTS_SPENT = Counter(
    "shopbridge_shopify_points_spent",
    "Shopify GraphQL cost points spent (actualQueryCost, else requestedQueryCost).",
    ["shop"],
)
SHOPIFY_BUCKET_AVAILABLE = Gauge(
    "shopbridge_shopify_bucket_available_points",
    "Points left in the shop's Shopify cost bucket, as its last response reported.",
    ["shop"],
)
SHOPIFY_BUCKET_MAXIMUM = Gauge(
    "shopbridge_shopify_bucket_maximum_points",
    "Size of the shop's Shopify cost bucket, as its last response reported.",
    ["shop"],
)
SHOPIFY_THROTTLED = Counter(
    "shopbridge_shopify_throttled",
    "Shopify answers THROTTLED (or HTTP 429) that were waited out.",
    ["shop"],
)
TIKTOK_RATE_LIMITED = Counter(
    "shopbridge_tiktok_rate_limited",
    "TikTok answers HTTP 429 (or its rate-limit code 36009002).",
)
ACTIONS_FAILED = Counter(
    "shopbridge_actions_failed",
    "Outbox actions that failed for good and wait for the merchant's Retry, by command kind.",
    ["kind"],
)
# From seconds to hours: a webhook reserves within seconds, a lost one waits for the next poll
# (poll_seconds, 60 by default) or reconciliation (reconcile_minutes, 5).
RESERVATION_LAG = Histogram(
    "shopbridge_reservation_lag_seconds",
    "TikTok order created → its Shopify order created (stock reserved), in clock seconds.",
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200),
)

WEBHOOK_PLATFORMS = ("tiktok", "shopify")
REFUSAL_REASONS = ("signature", "too_large", "unreadable")

# Every webhook series exists from the start, at 0: rate() and alerts need no first event.
for _platform in WEBHOOK_PLATFORMS:
    WEBHOOKS_RECEIVED.labels(platform=_platform)
    WEBHOOKS_MALFORMED.labels(platform=_platform)
    for _reason in REFUSAL_REASONS:
        WEBHOOKS_REFUSED.labels(platform=_platform, reason=_reason)


def webhook_received(platform: str) -> None:
    """A delivery was answered 200 (stored, or a duplicate of one stored)."""
    WEBHOOKS_RECEIVED.labels(platform=_known(platform, WEBHOOK_PLATFORMS)).inc()


def webhook_refused(platform: str, reason: str) -> None:
    """A request was refused before storing: a bad signature, too large, or unreadable."""
    WEBHOOKS_REFUSED.labels(
        platform=_known(platform, WEBHOOK_PLATFORMS), reason=_known(reason, REFUSAL_REASONS)
    ).inc()


def webhook_malformed(platform: str) -> None:
    """A verified delivery's body could not be read: stored as malformed."""
    WEBHOOKS_MALFORMED.labels(platform=_known(platform, WEBHOOK_PLATFORMS)).inc()


def shopify_cost(shop: str, cost: Mapping[str, Any] | None) -> None:
    """Count one Shopify response's `extensions.cost`: the points it spent and the bucket left.

    Takes the raw mapping (None when the response had none) so the call site stays one line.
    """
    if not cost:
        return
    spent = cost.get("actualQueryCost")
    if not isinstance(spent, int | float):
        spent = cost.get("requestedQueryCost")
    if isinstance(spent, int | float) and spent > 0:
        SHOPIFY_POINTS_SPENT.labels(shop=shop).inc(spent)
    status = cost.get("throttleStatus")
    if isinstance(status, Mapping):
        available = status.get("currentlyAvailable")
        maximum = status.get("maximumAvailable")
        if isinstance(available, int | float):
            SHOPIFY_BUCKET_AVAILABLE.labels(shop=shop).set(available)
        if isinstance(maximum, int | float):
            SHOPIFY_BUCKET_MAXIMUM.labels(shop=shop).set(maximum)


def shopify_throttled(shop: str) -> None:
    """Shopify answered THROTTLED (or 429); the client waits and tries again."""
    SHOPIFY_THROTTLED.labels(shop=shop).inc()


def tiktok_rate_limited() -> None:
    """TikTok answered 429 (or its rate-limit code); the client waits and tries again."""
    TIKTOK_RATE_LIMITED.inc()


def action_failed(kind: str) -> None:
    """An outbox action failed for good (it now waits for the merchant's Retry)."""
    ACTIONS_FAILED.labels(kind=kind[:64]).inc()


def outbox_outcome(command: object, outcome: object, now: datetime) -> None:
    """Count what one action's run returned: a new Shopify order (its reservation lag, from
    the command's TikTok order) or a failure for good (by command kind).

    Called by the worker as soon as the executor returns: the remote effect has happened then,
    whether or not recording it commits. An order found already created (a re-run after a
    crash) is not a new reservation and is not observed twice.
    """
    if isinstance(outcome, ev.ShopifyOrderCreated) and not outcome.already_existed:
        created = getattr(getattr(command, "order", None), "create_time", None)
        if isinstance(created, datetime):
            order_reserved(created, now)
    elif isinstance(outcome, ev.ActionFailed):
        action_failed(outcome.kind)


def order_reserved(tiktok_created_at: datetime, reserved_at: datetime) -> None:
    """A TikTok order's Shopify order was created: observe how long after TikTok created it.

    Both moments come from the service's clock and TikTok's create time (aware UTC); a negative
    difference (clocks apart) counts as zero rather than being dropped.
    """
    lag = (reserved_at - tiktok_created_at).total_seconds()
    RESERVATION_LAG.observe(max(0.0, lag))


@dataclass
class MetricsServer:
    """This process's /metrics on a port of its own, served from a thread until `stop()`."""

    host: str
    port: int
    _server: WSGIServer
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve_worker_metrics(
    port: int, host: str = "127.0.0.1", registry: CollectorRegistry = REGISTRY
) -> MetricsServer:
    """Serve this process's metrics on http://host:port/metrics (port 0: any free port).

    For `shopbridge worker` (`metrics_port`): a worker has no web app, and its counters and the
    reservation lag live only in its own process. Bound to 127.0.0.1 by default: the figures
    name the shops, so exposing them beyond the machine is the operator's choice
    (`metrics_host`), as is putting Prometheus or an agent next to it.
    """
    server, thread = start_http_server(port, addr=host, registry=registry)
    return MetricsServer(host, int(server.server_address[1]), server, thread)


def _known(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"metric label {value!r} is not one of {', '.join(allowed)}")
    return value
