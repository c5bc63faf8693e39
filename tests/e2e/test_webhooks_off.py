"""With no webhook from either platform, reconciliation alone completes the workflow (rule 8).

TikTok's sandbox sends nothing (webhooks switched off) and Shopify's drops every delivery; the
worker reconciles each connection every five minutes of clock time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from shopbridge.clock import ManualClock
from shopbridge.engine.worker import RetryPolicy, Worker
from shopbridge.store import Store
from shopbridge_sandbox.faults import Faults, FaultSettings
from support.stack import SHOP, Stack, running_stack

RECONCILE_EVERY = timedelta(minutes=5)
UPS_TRACKING = "1Z999AA10123456784"


@pytest.fixture
async def stack(store: Store, manual_clock: ManualClock) -> AsyncIterator[Stack]:
    silent_tiktok = Faults(settings=FaultSettings(webhooks_enabled=False), seed=1)
    async with running_stack(store, manual_clock, faults=silent_tiktok) as running:
        running.shopify.faults.settings.update({"webhooks_enabled": False})
        running.worker = reconciling_worker(running)
        await running.settle()  # the first pass, over an empty shop
        yield running
        assert not [i for i in running.store.inbox_items() if i.source in ("tiktok", "shopify")]


def reconciling_worker(stack: Stack) -> Worker:
    """The stack's worker, reconciling each connection every `RECONCILE_EVERY`."""
    return stack.service.worker(
        worker_id="e2e-reconciling",
        retry=RetryPolicy(base=timedelta(seconds=1), cap=timedelta(seconds=10)),
        seed=3,
        reconcile_every=RECONCILE_EVERY,
    )


async def next_pass(stack: Stack) -> None:
    """Let clock time pass the next reconciliation pass, and the work it finds run.

    A pass is due once the previous one started *more* than `RECONCILE_EVERY` ago."""
    await stack.advance(RECONCILE_EVERY + timedelta(seconds=1))


async def test_new_order_is_reserved_on_the_next_pass(stack: Stack) -> None:
    """Row 1: without webhooks a new order reaches Shopify, pending and held, on the next pass."""
    order_id = stack.tiktok.create_order(stack.shop_id, {"TEE-RED-L": 2})
    await stack.settle()
    assert stack.store.get_mirror(stack.connection_id, order_id) is None
    await next_pass(stack)
    order = stack.shopify_order(order_id)
    assert order["financial_status"] == "PENDING"
    assert order["fulfillment_status"] == "ON_HOLD"
    assert stack.shopify.inventory(SHOP, "TEE-RED-L")["committed"] == 2
    assert await stack.breaches() == []


async def test_paid_order_is_released_at_the_end_of_the_holdback(stack: Stack) -> None:
    """Rows 3b/4b: a payment found by reconciliation releases the order at paid + 60 min."""
    order_id = stack.tiktok.create_order(stack.shop_id, {"MUG-BLUE": 1})
    await next_pass(stack)
    stack.tiktok.pay(order_id)
    await stack.advance(timedelta(minutes=59))
    assert stack.shopify_order(order_id)["financial_status"] == "PENDING"
    await stack.advance(timedelta(minutes=2))
    order = stack.shopify_order(order_id)
    assert order["financial_status"] == "PAID"
    assert order["fulfillment_status"] == "UNFULFILLED"
    assert order["shipping_address"] is not None
    assert await stack.breaches() == []


@pytest.mark.parametrize(
    ("cancel", "reason"), [("buyer_cancel", "CUSTOMER"), ("fraud_cancel", "FRAUD")]
)
async def test_cancel_inside_holdback_is_mirrored_on_the_next_pass(
    stack: Stack, cancel: str, reason: str
) -> None:
    """Row 4a: a buyer or fraud cancel found by reconciliation cancels Shopify with restock."""
    order_id = stack.tiktok.create_order(stack.shop_id, {"TEE-RED-L": 1})
    await next_pass(stack)
    stack.tiktok.pay(order_id)
    await stack.advance(timedelta(minutes=10))
    getattr(stack.tiktok, cancel)(order_id)
    await next_pass(stack)
    order = stack.shopify_order(order_id)
    assert order["cancelled_at"] is not None
    assert order["cancel_reason"] == reason
    assert stack.shopify.inventory(SHOP, "TEE-RED-L")["available"] == 20
    assert stack.tiktok.inventory(stack.shop_id, "TEE-RED-L") == 18, "less the default buffer"
    assert await stack.breaches() == []


async def test_shopify_fulfilment_found_by_reconciliation_ships_on_tiktok(stack: Stack) -> None:
    """Row 6: a fulfilment whose webhook was lost is found on the next pass and sent to TikTok."""
    order_id = stack.tiktok.create_order(stack.shop_id, {"TEE-RED-L": 1}, paid=True)
    await stack.advance(timedelta(minutes=61))
    gid = stack.mirror(order_id).shopify_order_id
    assert gid is not None
    assert stack.shopify_order(order_id)["financial_status"] == "PAID"
    stack.shopify.fulfill_order(SHOP, gid, company="UPS", number=UPS_TRACKING)
    await next_pass(stack)
    tiktok_order = stack.tiktok.order(order_id)
    assert tiktok_order["status"] == "AWAITING_COLLECTION"
    assert tiktok_order["shipping_provider"] == "UPS"
    assert tiktok_order["tracking_number"] == UPS_TRACKING
    assert await stack.breaches() == []
