"""The Shopify gateway recognises its own earlier success after a refusal (answers lost)."""

from __future__ import annotations

import pytest

from shopbridge.engine.ports import RetryableError
from shopbridge.engine.shopify_gateway import ShopifyGateway
from shopbridge.shopify.client import ShopifyClient
from shopbridge.shopify.models import CancelReason, CreatedOrder, OrderLine, OrderState

TIKTOK_ID = "577000111222444"


async def _mirror(shopify: ShopifyClient, tee: dict[str, str]) -> CreatedOrder:
    return await shopify.create_order(
        source_identifier=TIKTOK_ID,
        currency="USD",
        tags=["tiktok-shop"],
        lines=[OrderLine(variant_id=tee["id"], quantity=1, unit_price="19.99")],
    )


async def test_a_cancel_already_running_is_retried_then_seen_done(
    shopify: ShopifyClient, tee: dict[str, str]
) -> None:
    """An earlier cancel whose answer was lost still runs: the second one is refused while the
    order is not cancelled yet, which is retryable, not a failure; once its job is done the
    order reads cancelled and a cancel is then a no-op."""
    created = await _mirror(shopify, tee)
    gateway = ShopifyGateway(shopify)
    job = await shopify.cancel_order(created.id, CancelReason.CUSTOMER)  # its answer "lost"
    with pytest.raises(RetryableError, match="already being cancelled"):
        await gateway.cancel(created.id, "CUSTOMER", "TikTok Shop: cancelled by the buyer")
    await shopify.wait_for_job(job, poll_interval=0.01)
    assert (await gateway.get_order(created.id)).cancelled
    await gateway.cancel(created.id, "CUSTOMER", "again")  # already done: nothing to do


async def test_mark_paid_refused_because_already_paid_is_done(
    shopify: ShopifyClient, tee: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A payment recorded by an earlier attempt that read the order before it landed: Shopify
    refuses the second one, the gateway reads again and finds it paid."""
    created = await _mirror(shopify, tee)
    stale = await shopify.get_order_state(created.id)
    assert stale is not None and stale.display_financial_status != "PAID"
    await shopify.mark_as_paid(created.id)
    reads: list[OrderState | None] = [stale]
    real = shopify.get_order_state

    async def first_stale(order_id: str) -> OrderState | None:
        return reads.pop() if reads else await real(order_id)

    monkeypatch.setattr(shopify, "get_order_state", first_stale)
    await ShopifyGateway(shopify).mark_paid(created.id)
    fresh = await real(created.id)
    assert fresh is not None and fresh.display_financial_status == "PAID"
