"""/healthz, /readyz and /metrics over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shopbridge.bootstrap import bootstrap
from shopbridge.clock import ManualClock
from shopbridge.config import Settings
from shopbridge.store import Fence, SecretBox, Store, create_db_engine
from shopbridge_sandbox.serving import BackgroundServer

LEASE = timedelta(seconds=30)
Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def serve(store: Store, **settings: Any) -> BackgroundServer:
    """The web app on `store`, with these settings, on a loopback port."""
    return BackgroundServer(bootstrap(Settings(**settings), store=store).web())


@pytest.fixture
def connection_id(store: Store) -> int:
    return store.add_connection(
        name="Demo shop",
        tiktok_app_key="6a1b2c3d4e5f",
        tiktok_app_secret="tiktok-app-secret",
        tiktok_shop_id="7494049642642441621",
        shopify_domain="demo.myshopify.com",
    )


@pytest.fixture
def base_url(store: Store) -> Iterator[str]:
    with serve(store) as server:
        yield server.base_url


def queue_order_action(store: Store, connection_id: int, order_id: str = "577000000001") -> None:
    with store.order_unit(connection_id, order_id) as unit:
        unit.save({"n": 1}, phase="reserving")
        unit.enqueue("create_shopify_order", {"n": 1}, f"create-{order_id}", 10)


def metric_samples(base_url: str, **headers: str) -> Samples:
    """Every sample of /metrics by name, then by its sorted labels; parsed by prometheus_client."""
    response = httpx.get(f"{base_url}/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[labels] = sample.value
    return samples


def ready(base_url: str) -> httpx.Response:
    return httpx.get(f"{base_url}/readyz")


# -- /healthz ------------------------------------------------------------------------------------


def test_healthz_answers_while_the_database_is_unreachable(tmp_path: Path) -> None:
    """Liveness reads nothing: a process whose database is down is alive, not to be restarted."""
    with serve(unreachable_store(tmp_path)) as server:
        response = httpx.get(f"{server.base_url}/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


# -- /readyz -------------------------------------------------------------------------------------


def test_readyz_is_200_with_every_check_when_all_pass(store: Store, base_url: str) -> None:
    """Database answering, a worker beating, nothing waiting: ready, and each check says so."""
    store.register_worker("worker-1", "host", 1)
    response = ready(base_url)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["failing"] == []
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "workers": True,
        "backlog": True,
    }


def test_readyz_is_503_when_no_worker_ever_registered(base_url: str) -> None:
    """Web only, no worker anywhere: webhooks would be stored and never handled."""
    response = ready(base_url)
    assert response.status_code == 503
    assert response.json()["failing"] == ["workers"]
    assert "no worker is running" in response.json()["checks"]["workers"]["detail"]


def test_readyz_is_503_when_the_newest_heartbeat_is_too_old(
    store: Store, manual_clock: ManualClock, base_url: str
) -> None:
    """A worker that stopped beating (hung, partitioned) for longer than the limit: not ready;
    its heartbeat coming back makes it ready again."""
    store.register_worker("worker-1", "host", 1)
    manual_clock.advance(59)
    assert ready(base_url).status_code == 200
    manual_clock.advance(2)
    response = ready(base_url)
    assert response.status_code == 503
    assert response.json()["failing"] == ["workers"]
    assert "no worker heartbeat in the last 60 s" in response.json()["checks"]["workers"]["detail"]
    store.beat("worker-1", {}, LEASE)
    assert ready(base_url).status_code == 200


def test_readyz_silence_limit_is_a_setting(store: Store, manual_clock: ManualClock) -> None:
    """ready_worker_silence_seconds moves the line."""
    store.register_worker("worker-1", "host", 1)
    manual_clock.advance(15)
    with serve(store, ready_worker_silence_seconds=10) as server:
        response = ready(server.base_url)
    assert response.status_code == 503
    assert response.json()["failing"] == ["workers"]


def test_readyz_is_503_when_due_work_waited_too_long(
    store: Store, manual_clock: ManualClock, connection_id: int, base_url: str
) -> None:
    """An action due for more than 5 minutes that no worker claimed: workers are not keeping
    up; the failing check names the queue."""
    queue_order_action(store, connection_id)
    manual_clock.advance(299)
    store.register_worker("worker-1", "host", 1)
    assert ready(base_url).status_code == 200
    manual_clock.advance(2)
    store.beat("worker-1", {}, LEASE)
    response = ready(base_url)
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["backlog"]
    assert body["checks"]["backlog"]["detail"].startswith("outbox: an item has waited 5 min")


def test_readyz_counts_only_work_a_worker_could_take(
    store: Store, manual_clock: ManualClock, connection_id: int, base_url: str
) -> None:
    """Claimed work (in progress) and work of a connection waiting for the merchant to
    reconnect do not make the service unready, however old."""
    queue_order_action(store, connection_id, "577000000001")
    queue_order_action(store, connection_id, "577000000002")
    manual_clock.advance(600)
    store.register_worker("worker-1", "host", 1)
    assert [i.tiktok_order_id for i in store.claim_outbox("worker-1", 1, LEASE)] == ["577000000001"]
    assert ready(base_url).json()["failing"] == ["backlog"]
    store.needs_reconnect(connection_id, "Shopify refused the token")
    assert ready(base_url).status_code == 200


def test_readyz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    """No database: 503 naming the database; the other checks say they could not be made, and
    the body carries no error text or address (the endpoint is open)."""
    with serve(unreachable_store(tmp_path)) as server:
        response = ready(server.base_url)
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["database", "workers", "backlog"]
    assert "could not be reached (OperationalError" in body["checks"]["database"]["detail"]
    assert str(tmp_path) not in response.text


@pytest.mark.postgres
def test_readyz_is_503_when_postgresql_does_not_answer_in_time(postgres_url: str) -> None:
    """A PostgreSQL that accepts the connection and never answers (a hung server, a black
    hole): /readyz answers 503 after ready_database_timeout_seconds instead of hanging."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        url = f"postgresql+psycopg://shopbridge@127.0.0.1:{port}/shopbridge"
        store = Store(create_db_engine(url), ManualClock(), SecretBox(SecretBox.generate_key()))
        with serve(store, ready_database_timeout_seconds=0.5) as server:
            response = httpx.get(f"{server.base_url}/readyz", timeout=10)
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["detail"] == (
        "the database did not answer SELECT 1 within 0.5 s"
    )


def unreachable_store(tmp_path: Path) -> Store:
    # A SQLite file in a directory that does not exist cannot be opened.
    url = f"sqlite:///{tmp_path / 'missing' / 'shopbridge.sqlite3'}"
    return Store(create_db_engine(url), ManualClock(), SecretBox(SecretBox.generate_key()))


# -- /metrics ------------------------------------------------------------------------------------

EXPECTED_METRICS = (
    "shopbridge_database_up",
    "shopbridge_queue_depth",
    "shopbridge_queue_oldest_waiting_seconds",
    "shopbridge_queue_failed",
    "shopbridge_workers_running",
    "shopbridge_connections",
    "shopbridge_connections_needing_reconnect",
    "shopbridge_webhooks_received_total",
    "shopbridge_webhooks_refused_total",
    "shopbridge_webhooks_malformed_total",
    "shopbridge_tiktok_rate_limited_total",
    "shopbridge_reservation_lag_seconds_count",
)


def test_metrics_is_prometheus_text_with_every_metric(
    store: Store, connection_id: int, base_url: str
) -> None:
    """The exposition parses, and the metrics the dashboard draws are all there."""
    samples = metric_samples(base_url)
    missing = [name for name in EXPECTED_METRICS if name not in samples]
    assert missing == []
    assert samples["shopbridge_database_up"][()] == 1
    assert samples["shopbridge_connections"][(("status", "active"),)] == 1


def test_queued_action_shows_in_the_depth_and_wait_gauges(
    store: Store, manual_clock: ManualClock, connection_id: int, base_url: str
) -> None:
    """Queue figures are read from the database at each scrape, per queue and per kind."""
    before = metric_samples(base_url)
    assert before["shopbridge_queue_depth"][(("queue", "outbox"),)] == 0
    queue_order_action(store, connection_id)
    manual_clock.advance(42)
    after = metric_samples(base_url)
    assert after["shopbridge_queue_depth"][(("queue", "outbox"),)] == 1
    by_kind = (("kind", "create_shopify_order"), ("queue", "outbox"))
    assert after["shopbridge_queue_kind_depth"][by_kind] == 1
    assert after["shopbridge_queue_oldest_waiting_seconds"][(("queue", "outbox"),)] == 42
    assert after["shopbridge_queue_kind_oldest_waiting_seconds"][by_kind] == 42


def test_deadline_in_retry_backoff_is_counted_but_not_waiting(
    store: Store, manual_clock: ManualClock, connection_id: int, base_url: str
) -> None:
    """A deadline whose last run failed waits out its backoff: it is queued work, but no worker
    could take it, so it starts waiting only when the backoff ends."""
    with store.order_unit(connection_id, "577000000003") as unit:
        unit.save({"n": 1}, phase="holding")
        unit.set_deadline("release", manual_clock.now())
    manual_clock.advance(10)
    (item,) = store.claim_deadlines("worker-1", 1, LEASE)
    with store.unit(None) as unit:
        unit.retry_deadline(
            item.id,
            Fence("worker-1", item.attempts),
            "TikTok did not answer",
            manual_clock.now() + timedelta(minutes=30),
        )
    manual_clock.advance(600)
    queue = (("queue", "deadline"),)
    during = metric_samples(base_url)
    assert during["shopbridge_queue_depth"][queue] == 1
    assert during["shopbridge_queue_oldest_waiting_seconds"][queue] == 0
    manual_clock.advance(1500)
    after = metric_samples(base_url)
    assert after["shopbridge_queue_oldest_waiting_seconds"][queue] == 300


def test_attention_and_reconnect_gauges_follow_the_database(
    store: Store, connection_id: int, base_url: str
) -> None:
    """An order flagged for the merchant and a connection a platform refused are counted."""
    with store.order_unit(connection_id, "577000000009") as unit:
        unit.save(
            {"n": 1},
            phase="reserved",
            tiktok_status="AWAITING_SHIPMENT",
            needs_attention=True,
            attention_reason="a SKU has no Shopify variant",
        )
    with store.order_unit(connection_id, "577000000010") as unit:
        # Unpaid orders are not listed yet, so they are not counted either (as the alerts).
        unit.save({"n": 2}, phase="reserved", tiktok_status="UNPAID", needs_attention=True)
    store.needs_reconnect(connection_id, "TikTok refused the token")
    samples = metric_samples(base_url)
    attention = samples["shopbridge_orders_needing_attention"]
    assert attention == {(("connection", str(connection_id)),): 1}
    assert samples["shopbridge_connections_needing_reconnect"][()] == 1


def test_refused_webhook_increments_the_refused_counter(base_url: str) -> None:
    """An unsigned TikTok webhook is answered 401 and counted as refused for its signature."""
    labels = (("platform", "tiktok"), ("reason", "signature"))
    before = metric_samples(base_url)["shopbridge_webhooks_refused_total"][labels]
    response = httpx.post(f"{base_url}/webhooks/tiktok", content=b'{"type":1}')
    assert response.status_code == 401
    after = metric_samples(base_url)["shopbridge_webhooks_refused_total"][labels]
    assert after == before + 1


def test_metrics_without_a_database_still_answer_with_database_up_0(tmp_path: Path) -> None:
    """A scrape during an outage says so, and still carries the process's own counters."""
    with serve(unreachable_store(tmp_path)) as server:
        samples = metric_samples(server.base_url)
    assert samples["shopbridge_database_up"][()] == 0
    assert "shopbridge_queue_depth" not in samples
    assert "shopbridge_webhooks_refused_total" in samples


def test_metrics_token_when_set_is_required(store: Store) -> None:
    """With metrics_token, /metrics answers 401 without the bearer token, 200 with it; health
    endpoints stay open."""
    with serve(store, metrics_token="scrape-token-0123456789") as server:
        assert httpx.get(f"{server.base_url}/metrics").status_code == 401
        wrong = httpx.get(f"{server.base_url}/metrics", headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert wrong.headers["www-authenticate"].startswith("Bearer")
        samples = metric_samples(server.base_url, authorization="Bearer scrape-token-0123456789")
        assert samples["shopbridge_database_up"][()] == 1
        assert httpx.get(f"{server.base_url}/healthz").status_code == 200


def test_grafana_dashboard_queries_only_metrics_that_exist(
    store: Store, connection_id: int, base_url: str
) -> None:
    """docs/grafana-dashboard.json is valid JSON, has a panel per metric group, and every
    metric name its queries use is one /metrics exposes (a renamed metric breaks this test,
    not the operator's dashboard)."""
    store.register_worker("worker-1", "host", 1)
    dashboard = json.loads((Path(__file__).parents[3] / "docs/grafana-dashboard.json").read_text())
    response = httpx.get(f"{base_url}/metrics")
    exposed: set[str] = set()
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}
    for family in text_string_to_metric_families(response.text):
        exposed.add(family.name)
        exposed.update(family.name + suffix for suffix in suffixes.get(family.type, ()))
    queries = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    used = {name for query in queries for name in re.findall(r"shopbridge_[a-z_]+", query)}
    assert sorted(used - exposed) == []
    rows = [panel["title"] for panel in dashboard["panels"] if panel["type"] == "row"]
    assert len(rows) == 5
    assert len(queries) >= 20
