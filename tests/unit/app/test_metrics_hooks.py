"""The metric hooks other modules call, and a worker's own /metrics port."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from shopbridge import metrics
from shopbridge.domain import events as ev


def value(name: str, **labels: str) -> float:
    """The current value of one sample in this process's registry (0 when absent)."""
    found = REGISTRY.get_sample_value(name, labels)
    return 0.0 if found is None else found


def test_shopify_cost_counts_actual_points_and_the_bucket() -> None:
    """actualQueryCost is what Shopify charged; the bucket gauges follow throttleStatus."""
    shop = "cost-test.myshopify.com"
    metrics.shopify_cost(
        shop,
        {
            "requestedQueryCost": 52,
            "actualQueryCost": 12,
            "throttleStatus": {
                "maximumAvailable": 2000.0,
                "currentlyAvailable": 1988,
                "restoreRate": 100.0,
            },
        },
    )
    metrics.shopify_cost(shop, {"requestedQueryCost": 10})  # a throttled answer charges this
    metrics.shopify_cost(shop, None)
    assert value("shopbridge_shopify_points_spent_total", shop=shop) == 22
    assert value("shopbridge_shopify_bucket_available_points", shop=shop) == 1988
    assert value("shopbridge_shopify_bucket_maximum_points", shop=shop) == 2000


def test_reservation_lag_is_observed_in_seconds() -> None:
    """The lag from TikTok's create time to the Shopify order lands in its bucket; a clock
    skew that makes it negative counts as zero."""
    created = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    before_count = value("shopbridge_reservation_lag_seconds_count")
    before_fast = value("shopbridge_reservation_lag_seconds_bucket", le="2.0")
    before_sum = value("shopbridge_reservation_lag_seconds_sum")
    metrics.order_reserved(created, created + timedelta(seconds=1.5))
    metrics.order_reserved(created, created - timedelta(seconds=3))
    metrics.order_reserved(created, created + timedelta(minutes=4))
    assert value("shopbridge_reservation_lag_seconds_count") == before_count + 3
    assert value("shopbridge_reservation_lag_seconds_bucket", le="2.0") == before_fast + 2
    assert value("shopbridge_reservation_lag_seconds_sum") == before_sum + 241.5


def test_failure_and_rate_limit_counters() -> None:
    """Each hook adds one to its own series."""
    failed = value("shopbridge_actions_failed_total", kind="release_shopify_order")
    limited = value("shopbridge_tiktok_rate_limited_total")
    throttled = value("shopbridge_shopify_throttled_total", shop="t.myshopify.com")
    malformed = value("shopbridge_webhooks_malformed_total", platform="shopify")
    metrics.action_failed("release_shopify_order")
    metrics.tiktok_rate_limited()
    metrics.shopify_throttled("t.myshopify.com")
    metrics.webhook_malformed("shopify")
    assert value("shopbridge_actions_failed_total", kind="release_shopify_order") == failed + 1
    assert value("shopbridge_tiktok_rate_limited_total") == limited + 1
    assert value("shopbridge_shopify_throttled_total", shop="t.myshopify.com") == throttled + 1
    assert value("shopbridge_webhooks_malformed_total", platform="shopify") == malformed + 1


def test_webhook_series_exist_before_the_first_webhook() -> None:
    """Every platform and refusal reason starts at 0 in a fresh process, so rate() and alerts
    work from the first scrape."""
    fresh = subprocess.run(
        [
            sys.executable,
            "-c",
            "import prometheus_client, shopbridge.metrics;"
            "print(prometheus_client.generate_latest().decode())",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(fresh.stdout)
        for sample in family.samples
    }
    for platform in metrics.WEBHOOK_PLATFORMS:
        assert samples[("shopbridge_webhooks_received_total", (("platform", platform),))] == 0
        assert samples[("shopbridge_webhooks_malformed_total", (("platform", platform),))] == 0
        for reason in metrics.REFUSAL_REASONS:
            labels = (("platform", platform), ("reason", reason))
            assert samples[("shopbridge_webhooks_refused_total", labels)] == 0


def test_a_misspelt_label_is_refused() -> None:
    """A typo at a call site fails loudly instead of starting a new time series."""
    with pytest.raises(ValueError, match="'tiktoc' is not one of tiktok, shopify"):
        metrics.webhook_received("tiktoc")
    with pytest.raises(ValueError, match="not one of signature, too_large, unreadable"):
        metrics.webhook_refused("shopify", "401")


def test_worker_metrics_port_serves_this_process_on_loopback() -> None:
    """`metrics_port`: a worker's counters and lag histogram, on 127.0.0.1 by default."""
    server = metrics.serve_worker_metrics(0)
    try:
        assert server.host == "127.0.0.1"
        metrics.tiktok_rate_limited()
        response = httpx.get(f"http://127.0.0.1:{server.port}/metrics")
    finally:
        server.stop()
    assert response.status_code == 200
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert {"shopbridge_reservation_lag_seconds", "shopbridge_tiktok_rate_limited"} <= names


@dataclass(frozen=True)
class OrderStandIn:
    create_time: datetime


@dataclass(frozen=True)
class CommandStandIn:
    """The one thing outbox_outcome reads of a CreateShopifyOrder: its TikTok order."""

    order: OrderStandIn


def test_outbox_outcome_observes_new_reservations_and_counts_failures() -> None:
    """A new Shopify order adds one lag observation; one found already created (a re-run) does
    not; an action failed for good counts under its command kind."""
    created = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    command = CommandStandIn(OrderStandIn(created))
    reserved = ev.ShopifyOrderCreated("key-1", "gid://shopify/Order/1", "#1001", ())
    again = ev.ShopifyOrderCreated(
        "key-1", "gid://shopify/Order/1", "#1001", (), already_existed=True
    )
    count = value("shopbridge_reservation_lag_seconds_count")
    failed = value("shopbridge_actions_failed_total", kind="mark_shopify_paid")
    metrics.outbox_outcome(command, reserved, created + timedelta(seconds=3))
    metrics.outbox_outcome(command, again, created + timedelta(minutes=9))
    metrics.outbox_outcome(command, ev.ActionFailed("key-2", "mark_shopify_paid", "no"), created)
    assert value("shopbridge_reservation_lag_seconds_count") == count + 1
    assert value("shopbridge_actions_failed_total", kind="mark_shopify_paid") == failed + 1
