"""The Shopify port over the real GraphQL client: our domain in, platform errors translated."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime

from shopbridge.domain.tiktok_order import Address, TikTokOrder
from shopbridge.engine.ports import (
    ALREADY_FULFILLED,
    AccessLost,
    CreatedOrder,
    Hold,
    PermanentError,
    Registration,
    RetryableError,
    ShopifyFulfilment,
    ShopifyLine,
    ShopifyOrderRef,
    ShopifyOrderView,
)
from shopbridge.shopify import models as shopify
from shopbridge.shopify.client import ShopifyClient
from shopbridge.shopify.errors import (
    ShopifyAuthError,
    ShopifyError,
    ShopifyRetryable,
    ShopifyUserError,
)

TAGS = ("tiktok-shop", "shopbridge")
DONE_STATUSES = frozenset({"CLOSED", "CANCELLED"})
HOLD_NOTES = "TikTok Shop: awaiting payment and the holdback"
FULFILLED_STATUSES = frozenset({"FULFILLED", "PARTIALLY_FULFILLED"})
# How long a SKU's variant id is trusted without asking Shopify again. A variant deleted
# meanwhile makes orderCreate refuse the line; the lookup is then made afresh at once.
VARIANT_CACHE_SECONDS = 600.0


@asynccontextmanager
async def translated() -> AsyncIterator[None]:
    try:
        yield
    except ShopifyRetryable as error:
        raise RetryableError(str(error)) from error
    except ShopifyUserError as error:
        raise PermanentError(str(error), code=error.code or "") from error
    except ShopifyAuthError as error:
        raise AccessLost(
            "shopify",
            f"Shopify refused shopbridge's access to {error.shop} ({error.detail}): the app was "
            "uninstalled, its access revoked, or it lacks a permission. Reconnect the store.",
        ) from error
    except ShopifyError as error:
        raise PermanentError(str(error)) from error


class ShopifyGateway:
    def __init__(
        self,
        client: ShopifyClient,
        *,
        location_id: str | None = None,
        inventory_behaviour: str = "DECREMENT_IGNORING_POLICY",
        hold_handle: str = "shopbridge-awaiting-payment",
        sku_links: Mapping[str, str] | None = None,
    ) -> None:
        self.client = client
        # TikTok seller SKU -> Shopify SKU, where the merchant's codes differ.
        self.sku_links = dict(sku_links or {})
        self._seller_skus = {shopify_sku: seller for seller, shopify_sku in self.sku_links.items()}
        self.location_id = location_id
        self.inventory_behaviour = shopify.InventoryBehaviour(inventory_behaviour)
        self.hold_handle = hold_handle
        # Shopify SKU -> (variant, when looked up): one lookup per SKU, not one per order.
        self._variants: dict[str, tuple[shopify.Variant, float]] = {}

    def _view(self, order: shopify.OrderState) -> ShopifyOrderView:
        fulfilments = tuple(
            ShopifyFulfilment(
                f.id,
                f.tracking_info[0].company if f.tracking_info else None,
                f.tracking_info[0].number if f.tracking_info else None,
                tuple((x.line_item_id, x.quantity) for x in f.fulfillment_line_items),
            )
            for f in order.fulfillments
            if f.status not in ("CANCELLED", "ERROR", "FAILURE")
        )
        return ShopifyOrderView(
            order_id=order.id,
            name=order.name,
            cancelled=order.is_cancelled,
            fulfilled=bool(fulfilments) or order.display_fulfillment_status in FULFILLED_STATUSES,
            paid=order.display_financial_status == "PAID",
            our_hold_ids=tuple(
                h.id
                for fo in order.fulfillment_orders
                for h in fo.holds
                if h.handle == self.hold_handle
            ),
            fulfilments=fulfilments,
            lines=tuple(self._line(line) for line in order.line_items),
            refund_notes=tuple(r.note or "" for r in order.refunds),
            location_id=self._location_of(order),
        )

    def _line(self, line: shopify.LineItemState) -> ShopifyLine:
        return ShopifyLine(
            line.id,
            self.seller_sku(line.sku or ""),
            line.quantity,
            line.current_quantity,
            line.unfulfilled_quantity,
        )

    def seller_sku(self, shopify_sku: str) -> str:
        """The TikTok seller SKU a Shopify SKU mirrors (itself unless mapped)."""
        return self._seller_skus.get(shopify_sku, shopify_sku)

    async def check_access(self) -> None:
        async with translated():
            await self.client.locations()

    async def ensure_webhooks(self, uri: str, topics: tuple[str, ...]) -> list[Registration]:
        """Every topic subscribed at `uri`: missing ones created, stale addresses moved."""
        found: list[Registration] = []
        async with translated():
            existing = {s.topic: s for s in await self.client.webhook_subscriptions()}
            for topic in topics:
                current = existing.get(topic)
                try:
                    if current is None:
                        await self.client.create_webhook_subscription(topic, uri)
                        found.append(Registration("shopify", topic, uri, "created"))
                    elif current.uri != uri:
                        await self.client.update_webhook_subscription(current.id, uri)
                        found.append(Registration("shopify", topic, uri, "updated"))
                    else:
                        found.append(Registration("shopify", topic, uri, "kept"))
                except ShopifyUserError as refused:
                    where = current.uri if current else None
                    found.append(Registration("shopify", topic, where, "failed", str(refused)))
        return found

    async def _order(self, order_id: str, *, detail: bool = False) -> shopify.OrderState:
        """The order's state; with `detail`, line by line (about 88 points instead of 23)."""
        read = self.client.get_order_detail if detail else self.client.get_order_state
        order = await read(order_id)
        if order is None:
            raise PermanentError(f"Shopify has no order {order_id} (deleted in the admin?)")
        return order

    async def find_orders(self, tiktok_order_id: str) -> tuple[ShopifyOrderRef, ...]:
        async with translated():
            found = await self.client.orders_by_source_identifier(tiktok_order_id)
        return tuple(
            ShopifyOrderRef(o.id, o.name, o.cancelled_at is not None, o.created_at) for o in found
        )

    async def order_ref(self, order_id: str) -> ShopifyOrderRef:
        async with translated():
            order = await self._order(order_id)
        return ShopifyOrderRef(order.id, order.name, order.is_cancelled, order.created_at)

    async def _variants_for(self, skus: Sequence[str]) -> dict[str, shopify.Variant]:
        """Variants by Shopify SKU, from the cache where fresh; unknown SKUs are absent (and
        asked again next time: a variant the merchant adds is found on the next order)."""
        now = time.monotonic()
        fresh = {sku: self._variants.get(sku, (None, 0.0)) for sku in dict.fromkeys(skus)}
        found = {
            sku: variant
            for sku, (variant, at) in fresh.items()
            if variant is not None and now - at < VARIANT_CACHE_SECONDS
        }
        missing = [sku for sku in fresh if sku not in found]
        if missing:
            for sku, variant in (await self.client.variants_by_sku(missing)).items():
                self._variants[sku] = (variant, now)
                found[sku] = variant
        return found

    async def create_pending_order(self, order: TikTokOrder) -> CreatedOrder:
        currency = order.total.currency if order.total else "USD"
        wanted = order.live_lines()  # units TikTok cancelled already are not reserved
        skus = [self.shopify_sku(line.seller_sku) for line in wanted]
        async with translated():
            try:
                return await self._create(order, currency, await self._variants_for(skus))
            except ShopifyUserError as refused:
                if not any(e.field and e.field[-1] == "variantId" for e in refused.errors):
                    raise
                # A cached variant was deleted or replaced: look every SKU up again, once.
                for sku in skus:
                    self._variants.pop(sku, None)
                return await self._create(order, currency, await self._variants_for(skus))

    async def _create(
        self, order: TikTokOrder, currency: str, variants: Mapping[str, shopify.Variant]
    ) -> CreatedOrder:
        lines = []
        unknown: list[str] = []
        for line in order.live_lines():
            variant = variants.get(self.shopify_sku(line.seller_sku))
            if variant is None:
                unknown.append(line.seller_sku)
            lines.append(
                shopify.OrderLine(
                    quantity=line.quantity,
                    unit_price=line.unit_price.amount,
                    variant_id=None if variant is None else variant.id,
                    title=None
                    if variant
                    else f"{line.product_name or 'TikTok item'} ({line.seller_sku})",
                    sku=self.shopify_sku(line.seller_sku),
                )
            )
        created = await self.client.create_order(
            source_identifier=order.order_id,
            currency=currency,
            lines=lines,
            tags=TAGS,
            note=f"TikTok Shop order {order.order_id}, mirrored by shopbridge.",
            custom_attributes={"tiktok_order_id": order.order_id},
            inventory_behaviour=self.inventory_behaviour,
        )
        fo_lines = {
            fo_line.line_item_id: fo_line.id
            for fo in created.fulfillment_orders
            for fo_line in fo.line_items
        }
        view = ShopifyOrderView(
            order_id=created.id,
            name=created.name,
            cancelled=False,
            fulfilled=False,
            paid=created.display_financial_status == "PAID",
            our_hold_ids=(),
            lines=tuple(
                replace(self._line(line), fulfillment_line_id=fo_lines.get(line.id))
                for line in created.line_items
            ),
        )
        open_orders = tuple(
            fo.id for fo in created.fulfillment_orders if fo.status not in DONE_STATUSES
        )
        return CreatedOrder(view, tuple(dict.fromkeys(unknown)), open_orders)

    async def hold_fulfillment_orders(
        self, order_id: str, handle: str, known: tuple[str, ...] = ()
    ) -> tuple[Hold, ...]:
        """Hold the fulfilment orders orderCreate answered, one mutation each and no read;
        if Shopify refuses one (our own earlier hold, or the order moved on since), or none
        were answered, read the order's fulfilment orders and hold what is still open."""
        async with translated():
            if known:
                holds: list[Hold] = []
                try:
                    for fo_id in known:
                        hold = await self.client.hold_fulfillment_order(
                            fo_id, handle, notes=HOLD_NOTES
                        )
                        holds.append(Hold(fo_id, hold.id))
                    return tuple(holds)
                except ShopifyUserError:
                    pass  # read below: it says what is held and what is left to hold
            return await self._hold_by_reading(order_id, handle)

    async def _hold_by_reading(self, order_id: str, handle: str) -> tuple[Hold, ...]:
        orders = await self.client.fulfillment_orders(order_id)
        if not orders:
            # Fulfilment orders may appear a moment after orderCreate (shopify_api.md §2).
            raise RetryableError(f"Shopify order {order_id} has no fulfilment orders yet")
        holds: list[Hold] = []
        for fo in orders:
            mine = [Hold(fo.id, h.id) for h in fo.holds if h.handle == handle]
            if mine:
                holds.extend(mine)
            elif fo.status not in DONE_STATUSES:
                try:
                    hold = await self.client.hold_fulfillment_order(fo.id, handle, notes=HOLD_NOTES)
                    holds.append(Hold(fo.id, hold.id))
                except ShopifyUserError as error:
                    if error.has_code("DUPLICATE_FULFILLMENT_HOLD_HANDLE"):
                        return await self._hold_by_reading(order_id, handle)
                    if await self._fulfilled_meanwhile(order_id, fo.id):
                        # The merchant fulfilled it between our read and the hold: nothing
                        # left to hold; the fulfilment is flagged as before the release.
                        continue
                    raise
        return tuple(holds)

    async def _fulfilled_meanwhile(self, order_id: str, fo_id: str) -> bool:
        for fo in await self.client.fulfillment_orders(order_id):
            if fo.id == fo_id:
                return fo.status in DONE_STATUSES
        return False

    async def get_order(self, order_id: str, *, detail: bool = True) -> ShopifyOrderView:
        async with translated():
            return self._view(await self._order(order_id, detail=detail))

    async def set_shipping_address(self, order_id: str, address: Address) -> None:
        province = address.province if address.province and len(address.province) <= 3 else None
        async with translated():
            await self.client.update_shipping_address(
                order_id,
                shopify.Address(
                    first_name=address.first_name,
                    last_name=address.last_name or address.name,
                    address1=address.address1,
                    address2=address.address2,
                    city=address.city,
                    province_code=province,
                    country_code=address.country_code,
                    zip=address.zip,
                    phone=address.phone,
                ),
            )

    # Each effect below reads Shopify first and skips what is done; and if Shopify refuses it,
    # reads again: a refusal because our own earlier attempt already did it ("already paid",
    # "hold not found", "already cancelled": its answer was lost) is success, not a failure.

    async def mark_paid(self, order_id: str) -> None:
        async with translated():
            try:
                await self.client.mark_as_paid(order_id)
            except ShopifyUserError as refused:
                order = await self._order(order_id)
                if order.display_financial_status == "PAID":
                    return  # our own earlier attempt got through
                raise PermanentError(
                    f"Shopify will not mark {order.name} as paid (financial status "
                    f"{order.display_financial_status}): {refused}"
                ) from refused

    async def release_holds(
        self, order_id: str, hold_ids: tuple[str, ...], held_on: tuple[str, ...] = ()
    ) -> None:
        async with translated():
            if held_on and len(held_on) == len(hold_ids):
                by_order: dict[str, list[str]] = {}
                for fo_id, hold_id in zip(held_on, hold_ids, strict=True):
                    by_order.setdefault(fo_id, []).append(hold_id)
                for fo_id, ours in by_order.items():
                    await self._release(order_id, fo_id, ours, hold_ids)
                return
            for fo in await self.client.fulfillment_orders(order_id):
                held = [h.id for h in fo.holds if h.id in hold_ids]
                if held:
                    await self._release(order_id, fo.id, held, hold_ids)

    async def _release(
        self, order_id: str, fo_id: str, ours: list[str], hold_ids: tuple[str, ...]
    ) -> None:
        try:
            await self.client.release_holds(fo_id, ours)
        except ShopifyUserError:
            # Refused: released already by an earlier attempt of ours (its answer lost), or the
            # fulfilment order moved on. Only a hold of ours still in place is a failure.
            if await self._still_held(order_id, fo_id, hold_ids):
                raise

    async def _still_held(self, order_id: str, fo_id: str, hold_ids: tuple[str, ...]) -> bool:
        for fo in await self.client.fulfillment_orders(order_id):
            if fo.id == fo_id:
                return any(h.id in hold_ids for h in fo.holds)
        return False

    async def cancel(self, order_id: str, reason: str, staff_note: str) -> None:
        """orderCancel runs as a job (shopify_api.md §4); the order shows as cancelled (and its
        orders/cancelled webhook comes) once the job is done, a moment later. Nothing waits for
        it: polling the job would cost points every order in a flash sale waits for."""
        async with translated():
            try:
                await self.client.cancel_order(
                    order_id, shopify.CancelReason(reason), restock=True, staff_note=staff_note
                )
            except ShopifyUserError as refused:
                order = await self._order(order_id)
                if order.is_cancelled:
                    return
                if self._view(order).fulfilled:
                    raise PermanentError(
                        f"Shopify order {order.name} is already fulfilled", code=ALREADY_FULFILLED
                    ) from refused
                # An earlier attempt of ours whose answer was lost may still be running its job
                # ("already being cancelled"). Retried with backoff: the next attempt finds the
                # order cancelled.
                raise RetryableError(
                    f"Shopify refused to cancel {order_id} while it is not cancelled yet (an "
                    f"earlier cancel still running?): {refused}"
                ) from refused

    async def edit_quantities(
        self,
        order_id: str,
        quantities: Mapping[str, int],
        staff_note: str,
        current: Mapping[str, int],
    ) -> None:
        async with translated():
            await self.client.edit_line_quantities(
                order_id, quantities, restock=True, staff_note=staff_note, current=current
            )

    async def refund_lines(
        self,
        order_id: str,
        lines: Sequence[tuple[str, int]],
        *,
        restock_at: str | None,
        note: str,
        idempotency_key: str,
    ) -> None:
        async with translated():
            await self.client.create_refund(
                order_id,
                [
                    shopify.RefundLine(
                        line_item_id=line_id,
                        quantity=quantity,
                        restock_type="RETURN" if restock_at else "NO_RESTOCK",
                        location_id=restock_at,
                    )
                    for line_id, quantity in lines
                ],
                note=note,
                idempotency_key=idempotency_key,
            )

    async def restock_lines(
        self, order_id: str, lines: Sequence[tuple[str, int]], idempotency_key: str
    ) -> None:
        async with translated():
            order = await self._order(order_id, detail=True)
            location = self._location_of(order)
            if location is None:
                raise PermanentError(f"Shopify order {order.name} names no location to restock at")
            skus = {line.id: line.sku for line in order.line_items if line.sku}
            variants = await self.client.variants_by_sku(sorted(set(skus.values())))
            changes = []
            for line_id, quantity in lines:
                variant = variants.get(skus.get(line_id, ""))
                if variant is None or not variant.inventory_item_id:
                    raise PermanentError(
                        f"Shopify order {order.name} line {line_id} has no stocked variant to "
                        "restock; add the units in Shopify by hand."
                    )
                changes.append(
                    shopify.InventoryDelta(
                        inventory_item_id=variant.inventory_item_id,
                        location_id=location,
                        delta=quantity,
                    )
                )
            await self.client.adjust_inventory(
                changes,
                reason="restock",
                idempotency_key=idempotency_key,
                reference_document_uri=f"shopbridge://returns/{order_id.rsplit('/', 1)[-1]}",
            )

    def _location_of(self, order: shopify.OrderState) -> str | None:
        """Where the order's goods were fulfilled from, so returns go back there."""
        for fo in order.fulfillment_orders:
            if fo.location_id:
                return fo.location_id
        return self.location_id

    def shopify_sku(self, seller_sku: str) -> str:
        return self.sku_links.get(seller_sku, seller_sku)

    async def find_items(self, shopify_skus: Sequence[str]) -> dict[str, str]:
        """Shopify SKU -> inventory item id, for the SKUs Shopify has."""
        async with translated():
            variants = await self.client.variants_by_sku(shopify_skus)
        return {sku: v.inventory_item_id for sku, v in variants.items() if v.inventory_item_id}

    async def stock_levels(self, item_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Inventory item id -> location id -> available; unknown items are absent."""
        async with translated():
            found = await self.client.item_levels(item_ids)
        return {item: dict(levels.available) for item, levels in found.items()}

    async def item_sku(self, item_id: str) -> str | None:
        async with translated():
            return await self.client.inventory_item_sku(item_id)

    async def stock_locations(self) -> list[tuple[str, str]]:
        """(id, name) of each active location."""
        async with translated():
            return [(loc.id, loc.name) for loc in await self.client.locations() if loc.is_active]

    async def catalog_levels(self, location_id: str) -> AsyncIterator[list[tuple[str, str, int]]]:
        """Every item stocked at a location, a page at a time: (item id, SKU, available)."""
        async with translated():
            async for page in self.client.location_levels(location_id):
                yield [(i.inventory_item_id, i.sku or "", i.available) for i in page]

    async def set_available(
        self, item_id: str, location_id: str, quantity: int, idempotency_key: str
    ) -> None:
        """Set an item's available count at one location (the first link, TikTok's count won)."""
        async with translated():
            await self.client.set_inventory(
                [
                    shopify.InventoryTarget(
                        inventory_item_id=item_id, location_id=location_id, quantity=quantity
                    )
                ],
                reason="correction",
                idempotency_key=idempotency_key,
                reference_document_uri="shopbridge://stock/first-link",
            )

    async def orders_updated(self, since: datetime) -> tuple[str, ...]:
        async with translated():
            return tuple(o.id for o in await self.client.orders_updated_since(since))
