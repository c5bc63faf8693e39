"""Carry out one domain command against the platforms and say what happened, as an event.

Assume the process can die between any two lines. So every executor:
- is **fenced**: `await lease.check()` right before each remote effect, so a worker that lost its
  claim (a stale lease, a partition) stops before acting, never after;
- is **resumable**: what it already did is saved as the claim's progress (the Shopify order it
  created), and the next holder carries on from there;
- **recognises its own earlier success**: it reads remote state before acting (an existing
  Shopify order, a payment already recorded, holds already released, an order already
  cancelled) or passes the command key as TikTok's idempotency key, so "already done" is done.
Errors propagate as `RetryableError` / `PermanentError` for the worker to classify.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

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
from shopbridge.engine.ports import PermanentError, ShopifyOrderRef, ShopifyPort, TikTokPort

HOLD_HANDLE = "shopbridge-awaiting-payment"


class Lease(Protocol):
    """The worker's claim on the command being executed."""

    @property
    def progress(self) -> Mapping[str, Any]:
        """What earlier holders of this claim saved (empty on the first run)."""

    async def check(self) -> None:
        """Raise `LeaseLost` unless the claim is still ours (and renew it); call before effects."""

    async def save(self, **progress: Any) -> None:
        """Add to the saved progress (raises `LeaseLost` if the claim is no longer ours)."""


class Unleased:
    """A lease that is always held, for commands run outside the worker (tests, tools)."""

    def __init__(self, progress: Mapping[str, Any] | None = None) -> None:
        self._progress = dict(progress or {})

    @property
    def progress(self) -> Mapping[str, Any]:
        return self._progress

    async def check(self) -> None:
        return None

    async def save(self, **progress: Any) -> None:
        self._progress.update(progress)


@dataclass
class ConnectionContext:
    """Everything a command needs about one TikTok shop ↔ Shopify store pairing."""

    connection_id: int
    tiktok: TikTokPort
    shopify: ShopifyPort
    policy: Policy
    clock: Clock
    carrier_mapping: Mapping[str, str] = field(default_factory=dict)


class ContextSource(Protocol):
    """Where the worker gets each connection's context: kept fresh, shared by its items."""

    async def context(self, connection_id: int) -> ConnectionContext:
        """The connection's context, rebuilt if its settings changed (checked on use)."""

    def policy(self, connection_id: int) -> Policy:
        """The connection's policy, for decisions made inside a unit of work (sync)."""

    def forget(self, connection_id: int) -> None:
        """Check the connection's settings again on next use."""

    async def aclose(self) -> None: ...


async def execute(command: Command, ctx: ConnectionContext, lease: Lease | None = None) -> ev.Event:
    lease = lease or Unleased()
    match command:
        case CreateShopifyOrder():
            return await reserve_stock(command, ctx, lease)
        case ReleaseShopifyOrder():
            return await release_order(command, ctx, lease)
        case CancelShopifyOrder():
            return await cancel_shopify_order(command, ctx, lease)
        case AnswerTikTokCancellation():
            await lease.check()
            await ctx.tiktok.answer_cancellation(
                command.cancel_id,
                command.decision,
                command.reject_reason,
                command.comment,
                command.key,
            )
            return ev.TikTokCancellationAnswered(command.key, command.cancel_id, command.decision)
        case ShipOnTikTok():
            return await send_tracking(command, ctx, lease)
        case SyncTikTokInventory():
            return await return_stock_on_tiktok(command, ctx, lease)
        case RefreshTikTokOrder():
            order = await ctx.tiktok.get_order(command.tiktok_order_id)
            return ev.TikTokOrderRefreshed(command.key, order)
    raise TypeError(f"no executor for {command!r}")


async def reserve_stock(
    command: CreateShopifyOrder, ctx: ConnectionContext, lease: Lease
) -> ev.Event:
    """Row 1 as one resumable step: find or create the Shopify order, then hold it at once.

    Shopify's orderCreate has no idempotency key (shopify_api.md §1), so the order we created is
    saved as the claim's progress the moment Shopify answers: a holder that dies before the hold
    leaves the next one an order to hold, not one to create again.
    """
    tiktok_id = command.order.order_id
    ours: str | None = lease.progress.get("shopify_order_id")
    unknown = tuple(lease.progress.get("unknown_skus", ()))
    if ours is None:
        found = await ctx.shopify.find_orders(tiktok_id)
        if found:
            ours = _oldest_live(found).order_id
        else:
            await lease.check()
            created = await ctx.shopify.create_pending_order(command.order)
            ours, unknown = created.view.order_id, created.unknown_skus
            await lease.save(shopify_order_id=ours, unknown_skus=list(unknown), created=True)
    keeper, duplicates = await _one_mirror(tiktok_id, ours, ctx, lease)
    await lease.check()
    hold_ids = await ctx.shopify.hold_fulfillment_orders(keeper.order_id, HOLD_HANDLE)
    return ev.ShopifyOrderCreated(
        command.key,
        keeper.order_id,
        keeper.name,
        hold_ids,
        unknown,
        already_existed=not (lease.progress.get("created") and keeper.order_id == ours),
        duplicates_cancelled=duplicates,
    )


async def _one_mirror(
    tiktok_id: str, ours: str, ctx: ConnectionContext, lease: Lease
) -> tuple[ShopifyOrderRef, tuple[str, ...]]:
    """Rule 1 after the fact: keep the oldest live Shopify order of this TikTok order, cancel
    (with restock) any other that a second holder of a stale claim created meanwhile.

    Every holder that gets here chooses the same keeper, so racing holders agree.
    """
    found = list(await ctx.shopify.find_orders(tiktok_id))
    if not any(o.order_id == ours for o in found):
        # Shopify's search may not index a new order at once (shopify_api.md §1, UNCONFIRMED):
        # our own order exists all the same.
        found.append(await ctx.shopify.order_ref(ours))
    keeper = _oldest_live(found)
    duplicates: list[str] = []
    for extra in found:
        if extra.order_id == keeper.order_id or extra.cancelled:
            continue
        await lease.check()
        await ctx.shopify.cancel(
            extra.order_id,
            "OTHER",
            f"Duplicate of {keeper.name} for TikTok Shop order {tiktok_id}: shopbridge keeps "
            "one Shopify order per TikTok order.",
        )
        duplicates.append(extra.name)
    return keeper, tuple(duplicates)


def _oldest_live(orders: list[ShopifyOrderRef] | tuple[ShopifyOrderRef, ...]) -> ShopifyOrderRef:
    live = [o for o in orders if not o.cancelled] or list(orders)
    return min(live, key=lambda o: o.sort_key)


async def release_order(
    command: ReleaseShopifyOrder, ctx: ConnectionContext, lease: Lease
) -> ev.Event:
    # Rule 3: re-read TikTok immediately before releasing, and decide on what it says now.
    order = await ctx.tiktok.get_order(command.tiktok_order_id)
    blocker = release_blocker(order, ctx.policy, ctx.clock.now())
    if blocker is not None:
        return ev.ReleaseRefused(command.key, order, blocker)
    # Each step reads Shopify first and skips what is done, so a half-done release completes.
    if order.shipping_address is not None:
        await lease.check()
        await ctx.shopify.set_shipping_address(command.shopify_order_id, order.shipping_address)
    await lease.check()
    await ctx.shopify.mark_paid(command.shopify_order_id)
    await lease.check()
    await ctx.shopify.release_holds(command.shopify_order_id, command.hold_ids)
    return ev.ShopifyOrderReleased(command.key, order)


async def cancel_shopify_order(
    command: CancelShopifyOrder, ctx: ConnectionContext, lease: Lease
) -> ev.Event:
    view = await ctx.shopify.get_order(command.shopify_order_id)
    if view.cancelled:
        return ev.ShopifyOrderCancelled(command.key)
    if view.fulfilled:
        return ev.ShopifyCancelRefused(
            command.key, f"Shopify order {view.name} is already fulfilled", fulfilled=True
        )
    await lease.check()
    await ctx.shopify.cancel(command.shopify_order_id, command.reason, command.staff_note)
    return ev.ShopifyOrderCancelled(command.key)


async def send_tracking(command: ShipOnTikTok, ctx: ConnectionContext, lease: Lease) -> ev.Event:
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
    await lease.check()
    try:
        await ctx.tiktok.mark_shipped(command.tiktok_order_id, command.number, provider.provider_id)
    except PermanentError as error:
        if error.code != "already_shipped":
            raise
    return ev.TrackingSent(command.key, command.fulfillment_id, provider.name)


async def return_stock_on_tiktok(
    command: SyncTikTokInventory, ctx: ConnectionContext, lease: Lease
) -> ev.Event:
    """The cancelled units are back in Shopify (restock); recording this outcome puts the SKUs
    in the stock queue, where TikTok follows Shopify under the merchant's rules."""
    return ev.InventorySynced(command.key, command.seller_skus)
