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
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from shopbridge.clock import Clock
from shopbridge.domain import events as ev
from shopbridge.domain.carriers import match_provider
from shopbridge.domain.commands import (
    AnswerTikTokCancellation,
    CancelOnTikTok,
    CancelShopifyOrder,
    Command,
    CorrectTikTokTracking,
    CreateShopifyOrder,
    RecordShopifyReturn,
    RefreshTikTokOrder,
    ReleaseShopifyOrder,
    RemoveShopifyUnits,
    RestockReturn,
    ShipOnTikTok,
    SyncTikTokInventory,
)
from shopbridge.domain.mirror import link_units
from shopbridge.domain.policy import Policy, release_blocker
from shopbridge.domain.tiktok_order import TikTokOrder, TikTokStatus, Unit
from shopbridge.engine.ports import (
    ALREADY_FULFILLED,
    AccessLost,
    PermanentError,
    ShippingProvider,
    ShopifyOrderRef,
    ShopifyPort,
    TikTokPort,
)
from shopbridge.shopify.throttle import reserving_stock

HOLD_HANDLE = "shopbridge-awaiting-payment"


class Lease(Protocol):
    """The worker's claim on the command being executed."""

    @property
    def progress(self) -> Mapping[str, Any]:
        """What earlier holders of this claim saved (empty on the first run)."""

    @property
    def first_attempt(self) -> bool:
        """True only when nobody held this claim before (no earlier run could have acted):
        lookups that recognise an earlier run's effect can be skipped."""

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

    @property
    def first_attempt(self) -> bool:
        return False  # run outside the worker: always look for what an earlier run did

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
            with reserving_stock():  # first call on Shopify's points (workflow.md rule 2)
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
        case CorrectTikTokTracking():
            return await correct_tracking(command, ctx, lease)
        case RemoveShopifyUnits():
            return await remove_units(command, ctx, lease)
        case CancelOnTikTok():
            return await cancel_on_tiktok(command, ctx, lease)
        case RecordShopifyReturn():
            return await record_return(command, ctx, lease)
        case RestockReturn():
            await lease.check()
            lines = [(t.shopify_line_id, t.quantity) for t in command.lines]
            await ctx.shopify.restock_lines(command.shopify_order_id, lines, command.key)
            skus = tuple(dict.fromkeys(t.seller_sku for t in command.lines))
            return ev.ReturnRestocked(command.key, command.return_id, skus)
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
    leaves the next one an order to hold, not one to create again. On a first attempt nobody
    can have created one yet, so it spends only orderCreate and the holds (20 points); a retry
    first looks for what an earlier holder made, and keeps one order per TikTok order.
    """
    tiktok_id = command.order.order_id
    first = lease.first_attempt
    ours: str | None = lease.progress.get("shopify_order_id")
    unknown = tuple(lease.progress.get("unknown_skus", ()))
    if ours is None:
        found = () if first else await ctx.shopify.find_orders(tiktok_id)
        if found:
            ours = _oldest_live(found).order_id
        else:
            await lease.check()
            created = await ctx.shopify.create_pending_order(command.order)
            ours, unknown = created.view.order_id, created.unknown_skus
            lines = [
                [x.line_id, x.seller_sku, x.quantity, x.fulfillment_line_id]
                for x in created.view.lines
            ]
            await lease.save(
                shopify_order_id=ours,
                shopify_order_name=created.view.name,
                unknown_skus=list(unknown),
                created=True,
                lines=lines,
                fulfillment_orders=list(created.fulfillment_order_ids),
            )
    progress = lease.progress
    created_here = bool(progress.get("created")) and progress.get("shopify_order_id") == ours
    if first and created_here:
        name = str(progress.get("shopify_order_name") or ours)
        keeper = ShopifyOrderRef(ours, name, False, ctx.clock.now())
        duplicates: tuple[str, ...] = ()
    else:
        keeper, duplicates = await _one_mirror(tiktok_id, ours, ctx, lease)
    created_here = created_here and keeper.order_id == ours
    await lease.check()
    known = tuple(progress.get("fulfillment_orders", ())) if created_here else ()
    holds = await ctx.shopify.hold_fulfillment_orders(keeper.order_id, HOLD_HANDLE, known)
    if created_here and progress.get("lines"):
        shopify_lines = tuple(
            (str(x[0]), str(x[1]), int(x[2]), x[3] if len(x) > 3 else None)
            for x in progress["lines"]
        )
    else:  # found, not created here: read what it holds
        view = await ctx.shopify.get_order(keeper.order_id)
        shopify_lines = tuple(
            (x.line_id, x.seller_sku, x.quantity, x.fulfillment_line_id) for x in view.lines
        )
    return ev.ShopifyOrderCreated(
        command.key,
        keeper.order_id,
        keeper.name,
        tuple(h.hold_id for h in holds),
        unknown,
        already_existed=not created_here,
        duplicates_cancelled=duplicates,
        lines=link_units(command.order.units, shopify_lines),
        held_on=tuple(h.fulfillment_order_id for h in holds),
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
    await ctx.shopify.release_holds(command.shopify_order_id, command.hold_ids, command.held_on)
    return ev.ShopifyOrderReleased(command.key, order)


async def cancel_shopify_order(
    command: CancelShopifyOrder, ctx: ConnectionContext, lease: Lease
) -> ev.Event:
    """One orderCancel (10 points), no read first: Shopify's refusal is what says the order was
    cancelled already (done) or has a box (refused, for the merchant to decide)."""
    await lease.check()
    try:
        await ctx.shopify.cancel(command.shopify_order_id, command.reason, command.staff_note)
    except PermanentError as refused:
        if refused.code != ALREADY_FULFILLED:
            raise
        return ev.ShopifyCancelRefused(command.key, refused.message, fulfilled=True)
    return ev.ShopifyOrderCancelled(command.key)


async def _provider(
    ctx: ConnectionContext, company: str | None, delivery_option_id: str | None
) -> ShippingProvider:
    if not delivery_option_id:
        raise PermanentError(
            "TikTok gave no delivery option for this order, so its shipping providers are unknown.",
            code="no_delivery_option",
        )
    providers = await ctx.tiktok.shipping_providers(delivery_option_id)
    provider = match_provider(company, providers, ctx.carrier_mapping)
    if provider is None:
        accepted = ", ".join(p.name for p in providers) or "none"
        raise PermanentError(
            f"Carrier {company or '(none)'!r} from Shopify matches no TikTok shipping "
            f"provider for this order. TikTok accepts: {accepted}. Map the carrier in Settings "
            "(Shopify tracking company → TikTok provider), then Retry.",
            code="unsupported_carrier",
        )
    return provider


async def send_tracking(command: ShipOnTikTok, ctx: ConnectionContext, lease: Lease) -> ev.Event:
    """One Shopify fulfilment (one box) → one TikTok shipment of exactly its units.

    TikTok is read first: units it cancelled meanwhile are left out (nothing TikTok cancelled
    ships), units already shipped mean an earlier attempt of ours got through, and a package
    TikTok combined with other orders is shipped as that package."""
    if not command.number:
        raise PermanentError(
            "The Shopify fulfilment has no tracking number, so TikTok cannot be told the order "
            "shipped. Add the tracking number to the fulfilment in Shopify, then Retry.",
            code="missing_tracking",
        )
    provider = await _provider(ctx, command.company, command.delivery_option_id)
    order = await ctx.tiktok.get_order(command.tiktok_order_id)
    units = [u for u in (order.unit(i) for i in command.unit_ids) if u is not None]
    gone = order.cancelled_unit_ids
    skipped = tuple(u.line_item_id for u in units if u.line_item_id in gone)
    live = [u for u in units if u.line_item_id not in gone]
    done = ev.TrackingSent(
        command.key, command.fulfillment_id, provider.name, None, command.number, skipped
    )
    if (command.unit_ids and not live) or order.status is TikTokStatus.CANCELLED:
        return done  # TikTok cancelled everything in this box: nothing to tell it
    if live and all(u.shipped for u in live):
        return replace(done, package_id=live[0].package_id)
    to_ship = [u.line_item_id for u in live if not u.shipped] or None
    package = _combined_package(order, live)
    await lease.check()
    try:
        if package is not None:
            await ctx.tiktok.ship_package(package, command.number, provider.provider_id)
            return replace(done, package_id=package)
        try:
            shipped = await ctx.tiktok.mark_shipped(
                command.tiktok_order_id, command.number, provider.provider_id, to_ship
            )
        except PermanentError as error:
            if error.code != "specify_lines" or to_ship is not None:
                raise
            # Several packages could ship (21011048): name this box's lines, which for a
            # whole-order box are every live unit not shipped yet.
            to_ship = [u.line_item_id for u in order.live_units if not u.shipped]
            await lease.check()
            shipped = await ctx.tiktok.mark_shipped(
                command.tiktok_order_id, command.number, provider.provider_id, to_ship
            )
        return replace(done, package_id=shipped)
    except PermanentError as error:
        if error.code != "already_shipped":
            raise
        return done


def _combined_package(order: TikTokOrder, live: list[Unit]) -> str | None:
    """The package TikTok made for these units with other orders' units, if it did."""
    if not order.combined:
        return None
    units = live or list(order.live_units)
    packages = {u.package_id for u in units if not u.shipped}
    return packages.pop() if len(packages) == 1 and None not in packages else None


TRACKING_FIX_REFUSED = frozenset({"21011049", "21011050", "21011051", "21011052"})


async def correct_tracking(
    command: CorrectTikTokTracking, ctx: ConnectionContext, lease: Lease
) -> ev.Event:
    if not command.package_id:
        raise PermanentError(
            "TikTok named no package for this shipment, so its tracking cannot be corrected "
            "through the API. Correct it in TikTok Shop Seller Center.",
            code="tracking_fix_refused",
        )
    if await ctx.tiktok.package_tracking(command.package_id) == command.number:
        return ev.TrackingCorrected(command.key, command.fulfillment_id, command.number)
    provider = await _provider(ctx, command.company, command.delivery_option_id)
    await lease.check()
    try:
        await ctx.tiktok.correct_tracking(command.package_id, command.number, provider.provider_id)
    except PermanentError as error:
        if error.code in TRACKING_FIX_REFUSED:
            raise PermanentError(
                f"TikTok refused the new tracking number {command.number}: it accepts one "
                "correction per package, within 72 hours of shipping "
                f"({error.message}). Correct it in TikTok Shop Seller Center if you still can.",
                code="tracking_fix_refused",
            ) from error
        raise
    return ev.TrackingCorrected(command.key, command.fulfillment_id, command.number)


async def remove_units(
    command: RemoveShopifyUnits, ctx: ConnectionContext, lease: Lease
) -> ev.Event:
    """Order editing down to what TikTok still has live; units Shopify already fulfilled
    cannot be removed and are reported. Reads first, so a repeat changes nothing."""
    view = await ctx.shopify.get_order(command.shopify_order_id)
    if view.cancelled:  # the whole order went meanwhile, with its stock
        return ev.ShopifyUnitsRemoved(command.key, command.unit_ids)
    lines = {line.line_id: line for line in view.lines}
    changes: dict[str, int] = {}
    stuck: list[tuple[str, int]] = []
    for target in command.targets:
        line = lines.get(target.shopify_line_id)
        if line is None:
            raise PermanentError(
                f"Shopify order {view.name} has no line {target.shopify_line_id} any more "
                f"({target.seller_sku}); remove the cancelled units in Shopify by hand."
            )
        goal = max(target.quantity, line.fulfilled)
        if line.current > goal:
            changes[line.line_id] = goal
        if target.quantity < line.fulfilled:
            stuck.append((line.line_id, line.fulfilled - target.quantity))
    if changes:
        await lease.check()
        current = {line.line_id: line.current for line in view.lines}
        try:
            await ctx.shopify.edit_quantities(
                command.shopify_order_id, changes, command.staff_note, current
            )
        except AccessLost:
            raise
        except PermanentError as refused:
            raise PermanentError(
                f"Shopify refused to take the units TikTok cancelled off {view.name}: "
                f"{refused.message} Make the order editable in Shopify (reopen it), then Retry.",
                code=refused.code,
            ) from refused
    skus = tuple(dict.fromkeys(t.seller_sku for t in command.targets))
    return ev.ShopifyUnitsRemoved(command.key, command.unit_ids, skus, tuple(stuck))


async def cancel_on_tiktok(
    command: CancelOnTikTok, ctx: ConnectionContext, lease: Lease
) -> ev.Event:
    order = await ctx.tiktok.get_order(command.tiktok_order_id)
    pending = [u for u in (order.unit(i) for i in command.unit_ids) if u and not u.cancelled]
    if pending:
        counts: dict[str, int] = {}
        for unit in pending:
            counts[unit.sku_id] = counts.get(unit.sku_id, 0) + 1
        await lease.check()
        await ctx.tiktok.cancel_items(
            command.tiktok_order_id,
            None if command.whole_order else [u.line_item_id for u in pending],
            () if command.whole_order else tuple(sorted(counts.items())),
            command.reason,
            command.key,
        )
        order = await ctx.tiktok.get_order(command.tiktok_order_id)
    return ev.TikTokItemsCancelled(command.key, order)


async def record_return(
    command: RecordShopifyReturn, ctx: ConnectionContext, lease: Lease
) -> ev.Event:
    skus = tuple(dict.fromkeys(t.seller_sku for t in command.lines)) if command.restock else ()
    view = await ctx.shopify.get_order(command.shopify_order_id)
    if any(command.note in note for note in view.refund_notes):
        return ev.ShopifyReturnRecorded(command.key, command.return_id, command.restock, skus)
    if command.restock and view.location_id is None:
        raise PermanentError(
            f"Shopify order {view.name} names no location to put the returned units back at; "
            "restock them in Shopify by hand."
        )
    await lease.check()
    await ctx.shopify.refund_lines(
        command.shopify_order_id,
        [(t.shopify_line_id, t.quantity) for t in command.lines],
        restock_at=view.location_id if command.restock else None,
        note=command.note,
        idempotency_key=command.key,
    )
    return ev.ShopifyReturnRecorded(command.key, command.return_id, command.restock, skus)


async def return_stock_on_tiktok(
    command: SyncTikTokInventory, ctx: ConnectionContext, lease: Lease
) -> ev.Event:
    """The cancelled units are back in Shopify (restock); recording this outcome puts the SKUs
    in the stock queue, where TikTok follows Shopify under the merchant's rules."""
    return ev.InventorySynced(command.key, command.seller_skus)
