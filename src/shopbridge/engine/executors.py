"""Carry out one domain command against the platforms and say what happened, as an event.

Every executor is safe to run twice: it reads remote state before acting (an existing
Shopify order, an order already cancelled) or passes the command key as TikTok's
idempotency key. Errors propagate as `RetryableError` / `PermanentError` for the worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from shopbridge.clock import Clock
from shopbridge.domain import events as ev
from shopbridge.domain.carriers import match_provider
from shopbridge.domain.commands import (
    AnswerTikTokCancellation,
    CancelShopifyOrder,
    Command,
    CreateShopifyOrder,
    RefreshTikTokOrder,
    ReleaseShopifyOrder,
    ShipOnTikTok,
    SyncTikTokInventory,
)
from shopbridge.domain.policy import Policy, release_blocker
from shopbridge.engine.ports import PermanentError, ShopifyPort, TikTokPort

HOLD_HANDLE = "shopbridge-awaiting-payment"


@dataclass
class ConnectionContext:
    """Everything a command needs about one TikTok shop ↔ Shopify store pairing."""

    connection_id: int
    tiktok: TikTokPort
    shopify: ShopifyPort
    policy: Policy
    clock: Clock
    carrier_mapping: Mapping[str, str] = field(default_factory=dict)


async def execute(command: Command, ctx: ConnectionContext) -> ev.Event:
    match command:
        case CreateShopifyOrder():
            return await reserve_stock(command, ctx)
        case ReleaseShopifyOrder():
            return await release_order(command, ctx)
        case CancelShopifyOrder():
            return await cancel_shopify_order(command, ctx)
        case AnswerTikTokCancellation():
            await ctx.tiktok.answer_cancellation(
                command.cancel_id,
                command.decision,
                command.reject_reason,
                command.comment,
                command.key,
            )
            return ev.TikTokCancellationAnswered(command.key, command.cancel_id, command.decision)
        case ShipOnTikTok():
            return await send_tracking(command, ctx)
        case SyncTikTokInventory():
            return await return_stock_on_tiktok(command, ctx)
        case RefreshTikTokOrder():
            order = await ctx.tiktok.get_order(command.tiktok_order_id)
            return ev.TikTokOrderRefreshed(command.key, order)
    raise TypeError(f"no executor for {command!r}")


async def reserve_stock(command: CreateShopifyOrder, ctx: ConnectionContext) -> ev.Event:
    # Shopify's orderCreate has no idempotency key (shopify_api.md §1): look before creating.
    existing = await ctx.shopify.find_order(command.order.order_id)
    unknown: tuple[str, ...]
    if existing is not None:
        view, unknown = existing, ()
    else:
        created = await ctx.shopify.create_pending_order(command.order)
        view, unknown = created.view, created.unknown_skus
    hold_ids = await ctx.shopify.hold_fulfillment_orders(view.order_id, HOLD_HANDLE)
    return ev.ShopifyOrderCreated(
        command.key,
        view.order_id,
        view.name,
        hold_ids,
        unknown,
        already_existed=existing is not None,
    )


async def release_order(command: ReleaseShopifyOrder, ctx: ConnectionContext) -> ev.Event:
    # Rule 3: re-read TikTok immediately before releasing, and decide on what it says now.
    order = await ctx.tiktok.get_order(command.tiktok_order_id)
    blocker = release_blocker(order, ctx.policy, ctx.clock.now())
    if blocker is not None:
        return ev.ReleaseRefused(command.key, order, blocker)
    if order.shipping_address is not None:
        await ctx.shopify.set_shipping_address(command.shopify_order_id, order.shipping_address)
    await ctx.shopify.mark_paid(command.shopify_order_id)
    await ctx.shopify.release_holds(command.shopify_order_id, command.hold_ids)
    return ev.ShopifyOrderReleased(command.key, order)


async def cancel_shopify_order(command: CancelShopifyOrder, ctx: ConnectionContext) -> ev.Event:
    view = await ctx.shopify.get_order(command.shopify_order_id)
    if view.cancelled:
        return ev.ShopifyOrderCancelled(command.key)
    if view.fulfilled:
        return ev.ShopifyCancelRefused(
            command.key, f"Shopify order {view.name} is already fulfilled", fulfilled=True
        )
    await ctx.shopify.cancel(command.shopify_order_id, command.reason, command.staff_note)
    return ev.ShopifyOrderCancelled(command.key)


async def send_tracking(command: ShipOnTikTok, ctx: ConnectionContext) -> ev.Event:
    if not command.number:
        raise PermanentError(
            "The Shopify fulfilment has no tracking number, so TikTok cannot be told the order "
            "shipped. Add the tracking number to the fulfilment in Shopify, then Retry.",
            code="missing_tracking",
        )
    if not command.delivery_option_id:
        raise PermanentError(
            "TikTok gave no delivery option for this order, so its shipping providers are unknown.",
            code="no_delivery_option",
        )
    providers = await ctx.tiktok.shipping_providers(command.delivery_option_id)
    provider = match_provider(command.company, providers, ctx.carrier_mapping)
    if provider is None:
        accepted = ", ".join(p.name for p in providers) or "none"
        raise PermanentError(
            f"Carrier {command.company or '(none)'!r} from Shopify matches no TikTok shipping "
            f"provider for this order. TikTok accepts: {accepted}. Map the carrier in Settings "
            "(Shopify tracking company → TikTok provider), then Retry.",
            code="unsupported_carrier",
        )
    try:
        await ctx.tiktok.mark_shipped(command.tiktok_order_id, command.number, provider.provider_id)
    except PermanentError as error:
        if error.code != "already_shipped":
            raise
    return ev.TrackingSent(command.key, command.fulfillment_id, provider.name)


async def return_stock_on_tiktok(command: SyncTikTokInventory, ctx: ConnectionContext) -> ev.Event:
    available = await ctx.shopify.available(command.seller_skus)
    for sku in command.seller_skus:
        if sku in available:
            await ctx.tiktok.set_inventory(sku, max(0, available[sku]))
    return ev.InventorySynced(command.key, command.seller_skus)
