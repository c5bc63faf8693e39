"""Fixtures for the store's own tests (the database fixtures live in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shopbridge.store import Store

EnqueueOrders = Callable[..., list[int]]  # the enqueue_orders fixture


@pytest.fixture
def connection_id(store: Store) -> int:
    return store.add_connection(
        name="Demo shop",
        tiktok_shop_id="7494049642642441621",
        tiktok_access_token="tiktok-access-token",
        shopify_domain="demo.myshopify.com",
        shopify_access_token="shpat_demo",
    )


@pytest.fixture
def enqueue_orders(store: Store, connection_id: int) -> EnqueueOrders:
    """Enqueue one action for each of `count` orders; returns the outbox ids."""

    def enqueue(count: int, *, kind: str = "reserve", priority: int = 10) -> list[int]:
        for number in range(count):
            with store.order_unit(connection_id, f"57700{number:06d}") as unit:
                unit.save({"n": number}, phase="reserving")
                unit.enqueue(kind, {"n": number}, f"{kind}-{number}", priority)
        mirrors = store.list_mirrors(connection_id, limit=count)
        return sorted(item.id for m in mirrors for item in store.outbox_for_mirror(m.id))

    return enqueue
