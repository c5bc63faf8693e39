"""In-memory platforms implementing the engine's ports, for unit tests and benchmarks.

They keep state like the real platforms (orders, holds, committed stock), so tests assert on
outcomes, not on calls. `fail_next` queues errors for a method to raise on its next calls.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from shopbridge.clock import Clock
from shopbridge.domain.events import CancellationObserved, ReturnObserved
from shopbridge.domain.policy import Policy
from shopbridge.domain.tiktok_order import Address, TikTokOrder, TikTokStatus
from shopbridge.engine.executors import ConnectionContext
from shopbridge.engine.ports import (
    ALREADY_FULFILLED,
    CreatedOrder,
    Hold,
    OrderCancellation,
    PermanentError,
    PlatformError,
    Registration,
    ShippingProvider,
    ShopifyFulfilment,
    ShopifyLine,
    ShopifyOrderRef,
    ShopifyOrderView,
    TikTokSku,
    UnreadableOrder,
)

FAKE_LOCATION = "gid://shopify/Location/1"
FAKE_WAREHOUSE = "7000000000000000001"


class _Faulty:
    def __init__(self) -> None:
        self.fail_next: dict[str, list[PlatformError]] = defaultdict(list)
        self.calls: dict[str, int] = defaultdict(int)

    def _enter(self, method: str) -> None:
        self.calls[method] += 1
        queued = self.fail_next.get(method)
        if queued:
            raise queued.pop(0)


@dataclass
class FakeLine:
    line_id: str
    sku: str
    quantity: int
    current: int
    fulfilled: int = 0


@dataclass
class FakeShopifyOrder:
    order_id: str
    name: str
    tiktok_order_id: str
    quantities: dict[str, int]  # known SKUs only: what is committed
    custom_skus: tuple[str, ...]
    lines: list[FakeLine] = field(default_factory=list)
    refund_notes: list[str] = field(default_factory=list)
    holds: dict[str, str] = field(default_factory=dict)  # hold id -> handle
    paid: bool = False
    cancelled: bool = False
    cancel_reason: str | None = None
    fulfilments: list[ShopifyFulfilment] = field(default_factory=list)
    address: Address | None = None
    marked_paid_at_holds: int = -1  # how many holds were left when it was marked paid
    created_at: datetime = datetime(2026, 1, 1, tzinfo=UTC)


class FakeShopify(_Faulty):
    platform = "shopify"

    def __init__(
        self, stock: dict[str, int] | None = None, sku_links: dict[str, str] | None = None
    ) -> None:
        self.sku_links = dict(sku_links or {})
        super().__init__()
        self.available_stock: dict[str, int] = dict(stock or {})
        self.committed: dict[str, int] = defaultdict(int)
        self.orders: dict[str, FakeShopifyOrder] = {}
        self._ids = itertools.count(1001)
        self._done_keys: set[str] = set()  # idempotency keys of refunds and restocks

    def view(self, order_id: str) -> ShopifyOrderView:
        o = self.orders[order_id]
        return ShopifyOrderView(
            order_id=o.order_id,
            name=o.name,
            cancelled=o.cancelled,
            fulfilled=bool(o.fulfilments),
            paid=o.paid,
            our_hold_ids=tuple(o.holds),
            fulfilments=tuple(o.fulfilments),
            lines=tuple(
                ShopifyLine(
                    x.line_id,
                    x.sku,
                    x.quantity,
                    x.current,
                    x.current - x.fulfilled,
                    x.line_id.replace("LineItem", "FulfillmentOrderLineItem"),
                )
                for x in o.lines
            ),
            refund_notes=tuple(o.refund_notes),
            location_id=FAKE_LOCATION,
        )

    async def check_access(self) -> None:
        self._enter("check_access")

    async def ensure_webhooks(self, address: str, topics: tuple[str, ...]) -> list[Registration]:
        self._enter("ensure_webhooks")
        return [Registration(self.platform, t, address, "kept") for t in topics]

    def orders_for(self, tiktok_order_id: str) -> list[FakeShopifyOrder]:
        return [o for o in self.orders.values() if o.tiktok_order_id == tiktok_order_id]

    def ref(self, order_id: str) -> ShopifyOrderRef:
        o = self.orders[order_id]
        return ShopifyOrderRef(o.order_id, o.name, o.cancelled, o.created_at)

    async def find_orders(self, tiktok_order_id: str) -> tuple[ShopifyOrderRef, ...]:
        self._enter("find_orders")
        found = [self.ref(o.order_id) for o in self.orders_for(tiktok_order_id)]
        return tuple(sorted(found, key=lambda r: r.sort_key))

    async def order_ref(self, order_id: str) -> ShopifyOrderRef:
        self._enter("order_ref")
        return self.ref(order_id)

    async def create_pending_order(self, order: TikTokOrder) -> CreatedOrder:
        self._enter("create_pending_order")
        number = next(self._ids)
        known: dict[str, int] = {}
        unknown: list[str] = []
        lines: list[FakeLine] = []
        for index, line in enumerate(order.live_lines()):
            lines.append(
                FakeLine(
                    f"gid://shopify/LineItem/{number}{index:02d}",
                    line.seller_sku,
                    line.quantity,
                    line.quantity,
                )
            )
            if line.seller_sku in self.available_stock:
                known[line.seller_sku] = known.get(line.seller_sku, 0) + line.quantity
            else:
                unknown.append(line.seller_sku)
        for sku, qty in known.items():  # DECREMENT_IGNORING_POLICY: commit even below zero
            self.available_stock[sku] -= qty
            self.committed[sku] += qty
        gid = f"gid://shopify/Order/{number}"
        self.orders[gid] = FakeShopifyOrder(
            gid, f"#{number}", order.order_id, known, tuple(unknown), lines
        )
        return CreatedOrder(self.view(gid), tuple(unknown), (_fulfillment_order_id(gid),))

    async def hold_fulfillment_orders(
        self, order_id: str, handle: str, known: tuple[str, ...] = ()
    ) -> tuple[Hold, ...]:
        self._enter("hold_fulfillment_orders")
        o = self.orders[order_id]
        if handle not in o.holds.values() and not o.cancelled and not o.paid:
            o.holds[f"gid://shopify/FulfillmentHold/{order_id.rsplit('/', 1)[-1]}"] = handle
        fo_id = _fulfillment_order_id(order_id)
        return tuple(Hold(fo_id, h) for h, name in o.holds.items() if name == handle)

    async def get_order(self, order_id: str, *, detail: bool = True) -> ShopifyOrderView:
        self._enter("get_order")
        return self.view(order_id)

    async def set_shipping_address(self, order_id: str, address: Address) -> None:
        self._enter("set_shipping_address")
        self.orders[order_id].address = address

    async def mark_paid(self, order_id: str) -> None:
        self._enter("mark_paid")
        o = self.orders[order_id]
        if o.cancelled:
            raise PermanentError(f"order {o.name} is cancelled and cannot be marked as paid")
        if not o.paid:
            o.paid = True
            o.marked_paid_at_holds = len(o.holds)

    async def release_holds(
        self, order_id: str, hold_ids: tuple[str, ...], held_on: tuple[str, ...] = ()
    ) -> None:
        self._enter("release_holds")
        o = self.orders[order_id]
        for hold_id in hold_ids:
            o.holds.pop(hold_id, None)

    async def cancel(self, order_id: str, reason: str, staff_note: str) -> None:
        self._enter("cancel")
        o = self.orders[order_id]
        if o.cancelled:
            return
        if o.fulfilments:
            raise PermanentError(
                f"Shopify order {o.name} is already fulfilled", code=ALREADY_FULFILLED
            )
        o.cancelled, o.cancel_reason = True, reason
        for sku, qty in o.quantities.items():  # restock: true
            self.committed[sku] -= qty
            self.available_stock[sku] += qty

    async def edit_quantities(
        self,
        order_id: str,
        quantities: Mapping[str, int],
        staff_note: str,
        current: Mapping[str, int],
    ) -> None:
        self._enter("edit_quantities")
        o = self.orders[order_id]
        if o.cancelled:
            raise PermanentError(f"order {o.name} is cancelled and cannot be edited")
        for line in o.lines:
            goal = quantities.get(line.line_id)
            if goal is None or goal >= line.current:
                continue
            if goal < line.fulfilled:
                raise PermanentError(f"cannot remove fulfilled units of {line.sku}")
            removed, line.current = line.current - goal, goal
            if line.sku in o.quantities:  # restock: true
                o.quantities[line.sku] -= removed
                self.committed[line.sku] -= removed
                self.available_stock[line.sku] += removed

    async def refund_lines(
        self,
        order_id: str,
        lines: Sequence[tuple[str, int]],
        *,
        restock_at: str | None,
        note: str,
        idempotency_key: str,
    ) -> None:
        self._enter("refund_lines")
        if idempotency_key in self._done_keys:
            return
        self._done_keys.add(idempotency_key)
        o = self.orders[order_id]
        o.refund_notes.append(note)
        by_id = {x.line_id: x for x in o.lines}
        for line_id, quantity in lines:
            line = by_id[line_id]
            line.current -= quantity
            line.fulfilled = min(line.fulfilled, line.current)
            if restock_at and line.sku in self.available_stock:
                self.available_stock[line.sku] += quantity

    async def restock_lines(
        self, order_id: str, lines: Sequence[tuple[str, int]], idempotency_key: str
    ) -> None:
        self._enter("restock_lines")
        if idempotency_key in self._done_keys:
            return
        self._done_keys.add(idempotency_key)
        by_id = {x.line_id: x for x in self.orders[order_id].lines}
        for line_id, quantity in lines:
            sku = by_id[line_id].sku
            if sku in self.available_stock:
                self.available_stock[sku] += quantity

    async def orders_updated(self, since: datetime) -> tuple[str, ...]:
        self._enter("orders_updated")
        return tuple(self.orders)  # no clock here: every order counts as updated

    # --- stock: one location, an inventory item per SKU ---

    def shopify_sku(self, seller_sku: str) -> str:
        return self.sku_links.get(seller_sku, seller_sku)

    async def find_items(self, shopify_skus: Sequence[str]) -> dict[str, str]:
        self._enter("find_items")
        return {s: f"item:{s}" for s in shopify_skus if s in self.available_stock}

    async def stock_levels(self, item_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        self._enter("stock_levels")
        return {
            i: {FAKE_LOCATION: self.available_stock[i[5:]]}
            for i in item_ids
            if i.startswith("item:") and i[5:] in self.available_stock
        }

    async def item_sku(self, item_id: str) -> str | None:
        return item_id[5:] if item_id[5:] in self.available_stock else None

    async def stock_locations(self) -> list[tuple[str, str]]:
        return [(FAKE_LOCATION, "Main warehouse")]

    async def catalog_levels(self, location_id: str) -> AsyncIterator[list[tuple[str, str, int]]]:
        yield [(f"item:{sku}", sku, n) for sku, n in sorted(self.available_stock.items())]

    async def set_available(
        self, item_id: str, location_id: str, quantity: int, idempotency_key: str
    ) -> None:
        self._enter("set_available")
        self.available_stock[item_id[5:]] = quantity

    # --- merchant actions in the Shopify admin ---

    def fulfil(
        self,
        order_id: str,
        company: str | None,
        number: str | None,
        units: Mapping[str, int] | None = None,
    ) -> ShopifyFulfilment:
        """Fulfil every remaining unit, or `units` (SKU -> quantity) of them: one box."""
        o = self.orders[order_id]
        if o.holds or o.cancelled:
            raise PermanentError(f"order {o.name} is on hold or cancelled and cannot be fulfilled")
        boxed: list[tuple[str, int]] = []
        for line in o.lines:
            left = line.current - line.fulfilled
            quantity = left if units is None else min(left, units.get(line.sku, 0))
            if quantity <= 0:
                continue
            line.fulfilled += quantity
            boxed.append((line.line_id, quantity))
            if line.sku in o.quantities:
                o.quantities[line.sku] -= quantity
                self.committed[line.sku] -= quantity
        if not boxed and o.lines:
            raise PermanentError(f"order {o.name} has nothing left to fulfil")
        fulfilment = ShopifyFulfilment(
            f"gid://shopify/Fulfillment/{len(o.fulfilments) + 1}{o.name[1:]}",
            company,
            number,
            tuple(boxed),
        )
        o.fulfilments.append(fulfilment)
        return fulfilment

    def retrack(self, order_id: str, fulfillment_id: str, number: str) -> ShopifyFulfilment:
        """The merchant corrects a tracking number in the admin (fulfillments/update)."""
        o = self.orders[order_id]
        for index, f in enumerate(o.fulfilments):
            if f.fulfillment_id == fulfillment_id:
                o.fulfilments[index] = replace(f, number=number)
                return o.fulfilments[index]
        raise KeyError(fulfillment_id)


class FakeTikTok(_Faulty):
    platform = "tiktok"

    def __init__(self, providers: tuple[ShippingProvider, ...] | None = None) -> None:
        super().__init__()
        self.orders: dict[str, TikTokOrder] = {}
        self.cancellations: dict[str, list[CancellationObserved]] = defaultdict(list)
        self.providers = providers or (
            ShippingProvider("6617675021119438849", "USPS"),
            ShippingProvider("6617675021119438850", "UPS"),
            ShippingProvider("6617675021119438851", "FedEx"),
        )
        self.inventory: dict[str, int] = {}
        self.unlisted: set[str] = set()
        self.unreadable: list[UnreadableOrder] = []  # orders TikTok sends in a broken shape
        self.refuse: dict[str, PlatformError] = {}  # seller SKU -> what TikTok says of its stock
        self.shipped: dict[str, tuple[str, str]] = {}
        self.packages: dict[str, tuple[str, tuple[str, ...]]] = {}  # id -> (tracking, units)
        self.returns: dict[str, list[ReturnObserved]] = defaultdict(list)
        self.answers: dict[str, str] = {}
        self._packages = itertools.count(1)

    async def check_access(self) -> None:
        self._enter("check_access")

    async def ensure_webhooks(self, address: str, topics: tuple[str, ...]) -> list[Registration]:
        self._enter("ensure_webhooks")
        return [Registration(self.platform, t, address, "kept") for t in topics]

    def put(self, order: TikTokOrder) -> TikTokOrder:
        self.orders[order.order_id] = order
        return order

    def update(self, order_id: str, **changes: object) -> TikTokOrder:
        return self.put(replace(self.orders[order_id], **changes))  # type: ignore[arg-type]

    async def get_order(self, order_id: str) -> TikTokOrder:
        self._enter("get_order")
        if order_id not in self.orders:
            raise PermanentError(f"TikTok has no order {order_id}")
        return self.orders[order_id]

    async def get_cancellations(self, order_id: str) -> tuple[CancellationObserved, ...]:
        self._enter("get_cancellations")
        return tuple(self.cancellations.get(order_id, ()))

    async def answer_cancellation(
        self, cancel_id: str, decision: str, reason: str, comment: str, idempotency_key: str
    ) -> None:
        self._enter("answer_cancellation")
        self.answers.setdefault(cancel_id, decision)

    async def shipping_providers(self, delivery_option_id: str) -> tuple[ShippingProvider, ...]:
        self._enter("shipping_providers")
        return self.providers

    async def mark_shipped(
        self,
        order_id: str,
        tracking_number: str,
        provider_id: str,
        unit_ids: Sequence[str] | None = None,
    ) -> str | None:
        self._enter("mark_shipped")
        order = self.orders[order_id]
        if order.status is TikTokStatus.CANCELLED:
            raise PermanentError(f"order {order_id} is cancelled")
        waiting = [u for u in order.live_units if not u.shipped]
        wanted = waiting if unit_ids is None else [u for u in waiting if u.line_item_id in unit_ids]
        if order.units and unit_ids is not None and len(wanted) != len(set(unit_ids)):
            raise PermanentError("some line items are cancelled, shipped or unknown")
        if order_id in self.shipped and (not order.units or not wanted):
            raise PermanentError("package already shipped", code="already_shipped")
        package = f"pkg-{next(self._packages)}"
        self.shipped[order_id] = (tracking_number, provider_id)
        ids = {u.line_item_id for u in wanted}
        self.packages[package] = (tracking_number, tuple(sorted(ids)))
        if order.units:
            units = tuple(
                replace(u, status="AWAITING_COLLECTION", package_id=package)
                if u.line_item_id in ids
                else u
                for u in order.units
            )
            left = any(not u.shipped for u in units if not u.cancelled)
            status = TikTokStatus.PARTIALLY_SHIPPING if left else TikTokStatus.AWAITING_COLLECTION
            self._bump(order_id, units=units, status=status)
        return package

    async def ship_package(self, package_id: str, tracking_number: str, provider_id: str) -> None:
        self._enter("ship_package")
        for order in list(self.orders.values()):
            if any(u.package_id == package_id and not u.shipped for u in order.units):
                units = tuple(
                    replace(u, status="AWAITING_COLLECTION")
                    if u.package_id == package_id and not u.cancelled
                    else u
                    for u in order.units
                )
                self._bump(order.order_id, units=units, status=TikTokStatus.AWAITING_COLLECTION)
                self.shipped[order.order_id] = (tracking_number, provider_id)
        self.packages[package_id] = (tracking_number, ())

    async def correct_tracking(
        self, package_id: str, tracking_number: str, provider_id: str
    ) -> None:
        self._enter("correct_tracking")
        _, units = self.packages[package_id]
        self.packages[package_id] = (tracking_number, units)

    async def package_tracking(self, package_id: str) -> str | None:
        self._enter("package_tracking")
        found = self.packages.get(package_id)
        return None if found is None else found[0]

    async def cancel_items(
        self,
        order_id: str,
        unit_ids: Sequence[str] | None,
        skus: Sequence[tuple[str, int]],
        reason: str,
        idempotency_key: str,
    ) -> None:
        self._enter("cancel_items")
        order = self.orders[order_id]
        ids = {u.line_item_id for u in order.live_units} if unit_ids is None else set(unit_ids)
        units = tuple(
            replace(u, status="CANCELLED", cancel_user="SELLER") if u.line_item_id in ids else u
            for u in order.units
        )
        if all(u.cancelled for u in units):
            self._bump(
                order_id,
                units=units,
                status=TikTokStatus.CANCELLED,
                cancellation_initiator="SELLER",
                cancel_reason=reason,
            )
        else:
            self._bump(order_id, units=units)

    async def get_returns(self, order_id: str) -> tuple[ReturnObserved, ...]:
        self._enter("get_returns")
        return tuple(self.returns.get(order_id, ()))

    async def returns_updated(
        self, since: datetime, until: datetime
    ) -> list[tuple[str, ReturnObserved]]:
        self._enter("returns_updated")
        return [
            (order_id, r)
            for order_id, found in self.returns.items()
            for r in found
            if since <= r.update_time < until
        ]

    def _bump(self, order_id: str, **changes: object) -> TikTokOrder:
        """A change TikTok makes itself: the order's update time moves on by a second."""
        order = self.orders[order_id]
        return self.update(
            order_id, update_time=order.update_time + timedelta(seconds=1), **changes
        )

    # --- stock: every SKU listed (but `unlisted`), one product each, one warehouse ---

    def _sku(self, seller_sku: str) -> TikTokSku:
        quantity = self.inventory.get(seller_sku, 0)
        return TikTokSku(
            seller_sku, f"prod:{seller_sku}", f"sku:{seller_sku}", {FAKE_WAREHOUSE: quantity}
        )

    async def find_skus(self, seller_skus: Sequence[str]) -> dict[str, TikTokSku]:
        self._enter("find_skus")
        return {s: self._sku(s) for s in seller_skus if s not in self.unlisted}

    async def catalog(self) -> AsyncIterator[list[TikTokSku]]:
        yield [self._sku(s) for s in sorted(self.inventory) if s not in self.unlisted]

    async def sku_stock(self, sku_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        self._enter("sku_stock")
        return {i: {FAKE_WAREHOUSE: self.inventory.get(i[4:], 0)} for i in sku_ids}

    async def push_stock(
        self, product_id: str, quantities: Mapping[str, Mapping[str, int]]
    ) -> dict[str, PlatformError]:
        self._enter("set_inventory")
        refused: dict[str, PlatformError] = {}
        for sku_id, by_warehouse in quantities.items():
            if sku_id[4:] in self.refuse:
                refused[sku_id] = self.refuse[sku_id[4:]]
            else:
                self.inventory[sku_id[4:]] = sum(by_warehouse.values())
        return refused

    async def warehouses(self) -> list[tuple[str, str, bool]]:
        return [(FAKE_WAREHOUSE, "Main", True)]

    async def orders_updated(
        self, since: datetime, until: datetime
    ) -> list[TikTokOrder | UnreadableOrder]:
        self._enter("orders_updated")
        found = sorted(
            (o for o in self.orders.values() if since <= o.update_time < until),
            key=lambda o: o.update_time,
        )
        return [*found, *self.unreadable]

    async def cancellations_updated(
        self, since: datetime, until: datetime
    ) -> list[OrderCancellation]:
        self._enter("cancellations_updated")
        return [
            OrderCancellation(order_id, c)
            for order_id, items in self.cancellations.items()
            for c in items
            if since <= c.update_time < until
        ]


class FakeContexts:
    """A context source for `bootstrap(contexts=...)`: every connection talks to these fakes."""

    def __init__(
        self, tiktok: FakeTikTok, shopify: FakeShopify, policy: Policy, clock: Clock
    ) -> None:
        self.tiktok, self.shopify, self._policy, self.clock = tiktok, shopify, policy, clock

    async def context(self, connection_id: int) -> ConnectionContext:
        return ConnectionContext(connection_id, self.tiktok, self.shopify, self._policy, self.clock)

    def policy(self, connection_id: int) -> Policy:
        return self._policy

    def forget(self, connection_id: int) -> None:
        return None

    async def aclose(self) -> None:
        return None


def _fulfillment_order_id(order_id: str) -> str:
    """A fake order has one fulfilment order, numbered like the order."""
    return f"gid://shopify/FulfillmentOrder/{order_id.rsplit('/', 1)[-1]}"
