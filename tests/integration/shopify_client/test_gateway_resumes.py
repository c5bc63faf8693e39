"""The Shopify gateway recognises its own earlier success after a refusal (answers lost)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shopbridge.engine.ports import PermanentError, RetryableError
from shopbridge.engine.shopify_gateway import ShopifyGateway
from shopbridge.shopify.client import ShopifyClient
from shopbridge.shopify.models import (
    CancelReason,
    CreatedOrder,
    FulfillmentOrder,
    OrderLine,
)
from shopbridge_sandbox.shopify import ShopifySandbox, StoreCredentials

TIKTOK_ID = "577000111222444"


async def _mirror(shopify: ShopifyClient, tee: dict[str, str]) -> CreatedOrder:
    return await shopify.create_order(
        source_identifier=TIKTOK_ID,
        currency="USD",
        tags=["tiktok-shop"],
        lines=[OrderLine(variant_id=tee["id"], quantity=1, unit_price="19.99")],
    )


async def test_a_cancel_already_running_is_retried_then_seen_done(
    shopify: ShopifyClient, sandbox: ShopifySandbox, tee: dict[str, str]
) -> None:
    """An earlier cancel whose answer was lost still runs: the second one is refused while the
    order is not cancelled yet, which is retryable, not a failure; once its job is done the
    order reads cancelled and a cancel is then a no-op."""
    sandbox.world.cancel_job_delay = timedelta(hours=1)  # a slow job
    created = await _mirror(shopify, tee)
    gateway = ShopifyGateway(shopify)
    job = await shopify.cancel_order(created.id, CancelReason.CUSTOMER)  # its answer "lost"
    with pytest.raises(RetryableError, match="already being cancelled"):
        await gateway.cancel(created.id, "CUSTOMER", "TikTok Shop: cancelled by the buyer")
    await shopify.wait_for_job(job, poll_interval=0.01)
    assert (await gateway.get_order(created.id)).cancelled
    await gateway.cancel(created.id, "CUSTOMER", "again")  # already done: nothing to do


async def test_mark_paid_refused_because_already_paid_is_done(
    shopify: ShopifyClient, tee: dict[str, str]
) -> None:
    """A payment recorded by an earlier attempt whose answer was lost: Shopify refuses the
    second one, the gateway reads the order (only then) and finds it paid."""
    created = await _mirror(shopify, tee)
    await shopify.mark_as_paid(created.id)
    await ShopifyGateway(shopify).mark_paid(created.id)
    fresh = await shopify.get_order_state(created.id)
    assert fresh is not None and fresh.display_financial_status == "PAID"


async def test_mark_paid_refused_for_another_reason_says_why(
    shopify: ShopifyClient, tee: dict[str, str]
) -> None:
    """A refusal that is not our own earlier success is a failure in words, with the status."""
    created = await _mirror(shopify, tee)
    job = await shopify.cancel_order(created.id, CancelReason.CUSTOMER)
    await shopify.wait_for_job(job, poll_interval=0.01)
    with pytest.raises(PermanentError, match=r"will not mark .* as paid"):
        await ShopifyGateway(shopify).mark_paid(created.id)


async def test_an_order_fulfilled_between_the_read_and_the_hold_is_not_a_failure(
    shopify: ShopifyClient,
    sandbox: ShopifySandbox,
    store: StoreCredentials,
    tee: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The merchant fulfils the order in the instant after shopbridge read its fulfillment
    orders and before it holds them: Shopify refuses the hold (the order is CLOSED); the
    gateway reads again, sees it fulfilled, and reports no hold instead of failing."""
    created = await _mirror(shopify, tee)
    seen = await shopify.fulfillment_orders(created.id)
    real = shopify.fulfillment_orders
    reads = [seen]

    async def read_then_fulfilled(order_id: str) -> list[FulfillmentOrder]:
        if reads:
            first = reads.pop()
            sandbox.fulfill_order(store.name, created.id, "UPS", "1Z999AA10123456784")
            return first
        return await real(order_id)

    monkeypatch.setattr(shopify, "fulfillment_orders", read_then_fulfilled)
    holds = await ShopifyGateway(shopify).hold_fulfillment_orders(created.id, "shopbridge-test")
    assert holds == ()
    (fo,) = await real(created.id)
    assert fo.status == "CLOSED" and not fo.holds
