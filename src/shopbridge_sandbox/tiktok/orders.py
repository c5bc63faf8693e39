"""The order lifecycle of tiktok_shop_api.md §3.1 and §7, with its cancellations.

UNPAID -> ON_HOLD -> AWAITING_SHIPMENT (US/UK "on hold" flow: 1 h after paid_time), or
UNPAID -> AWAITING_SHIPMENT at payment (is_on_hold_order=false, the remorse hour still runs).
Buyers cancel freely while UNPAID, ON_HOLD or inside the remorse hour; later a buyer cancel is a
request the seller answers within 48 h, else TikTok approves it. Unpaid orders are cancelled
24 h after create_time. Every status change moves `update_time` and notifies (webhook type 1);
every cancellation status change notifies too (type 11). Opening or closing a buyer request
also moves `update_time` (the order's is_buyer_request_cancel changed), without a type 1.

Item-level cancels (wave2 §4) cancel some units: each shows `display_status` CANCELLED with
its `cancel_user`, its stock goes back, a cancellation record lists it; the order itself only
becomes CANCELLED once every unit is cancelled. Packages live in `packages.py`.

Buyer and platform actions (pay, buyer cancel, ...) raise `SandboxError`; the seller's actions,
which arrive through the API with TikTok's error codes, live in `seller.py`.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from shopbridge_sandbox.tiktok import catalog
from shopbridge_sandbox.tiktok.errors import NotFound, SandboxError
from shopbridge_sandbox.tiktok.models import Cancellation, LineItem, Order
from shopbridge_sandbox.tiktok.packages import PackageDesk
from shopbridge_sandbox.tiktok.state import Marketplace

UNPAID_WINDOW = timedelta(hours=24)  # workflow.md; per-market value UNCONFIRMED (§7)
REMORSE_WINDOW = timedelta(hours=1)  # §3.1 ON_HOLD, §7
SELLER_RESPONSE_WINDOW = timedelta(hours=48)  # §7
ON_HOLD_REGIONS = frozenset({"US", "GB", "UK"})  # §3.1: ON_HOLD exists only for US and UK

PENDING = "CANCELLATION_REQUEST_PENDING"
SUCCESS = "CANCELLATION_REQUEST_SUCCESS"
CLOSED = "CANCELLATION_REQUEST_CANCELLED"
COMPLETE = "CANCELLATION_REQUEST_COMPLETE"

ORDER_STATUS_CHANGE = 1
CANCELLATION_STATUS_CHANGE = 11

CANCEL_ROLES = ("SELLER", "OPERATOR", "SYSTEM")  # wave2 §4: buyers cannot cancel single items
# A platform-side item cancel with no reason given: sandbox choices among the US reason keys.
ITEM_CANCEL_REASONS = {
    "SELLER": "seller_cancel_reason_out_of_stock",
    "OPERATOR": "operator_cancel_risk_control_block",
    "SYSTEM": "system_cancel_order_reason_shipping_timeout",
}

Notify = Callable[[str, int, dict[str, Any]], None]


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


class OrderDesk:
    def __init__(self, market: Marketplace, notify: Notify) -> None:
        self.market = market
        self._notify = notify
        # TikTok's own timers, earliest first: (due, sequence, kind, order or cancellation id).
        # Scheduled when an order or a request changes, checked again when due (a timer whose
        # order moved on meanwhile is dropped), so firing costs no scan of every order.
        self._timers: list[tuple[datetime, int, str, str]] = []
        self._timer_sequence = itertools.count()
        self.packages = PackageDesk(market, notify, self.status_changed)

    # -- buyer and platform side (the control API) -----------------------------------------

    def create(
        self, shop_id: str, items: Mapping[str, int], on_hold_flow: bool | None = None
    ) -> Order:
        market = self.market
        shop = market.shop(shop_id)
        if on_hold_flow is None:
            on_hold_flow = shop.region in ON_HOLD_REGIONS
        elif on_hold_flow and shop.region not in ON_HOLD_REGIONS:
            raise SandboxError(f"ON_HOLD exists only in US and UK shops, not in {shop.region}")
        if not items or any(q < 1 for q in items.values()):
            raise SandboxError("an order needs at least one unit of each SKU it names")
        now = market.clock.now()
        lines: list[LineItem] = []
        try:
            for seller_sku, quantity in items.items():
                sku = market.sku(shop_id, seller_sku)
                product = market.products[sku.product_id]
                for _ in range(quantity):
                    warehouse_id = market.reserve_unit(sku, shop.warehouses[0].id)
                    lines.append(
                        LineItem(
                            id=market.ids.numeric("5770", 18),
                            sku_id=sku.id,
                            product_id=product.id,
                            seller_sku=sku.seller_sku,
                            product_name=product.title,
                            sku_name=sku.name,
                            price=sku.price,
                            warehouse_id=warehouse_id,
                        )
                    )
        except (SandboxError, NotFound):
            for line in lines:  # all or nothing: give back what this order took
                market.return_unit(market.skus[line.sku_id], line.warehouse_id, shipped=False)
            raise
        order = Order(
            id=market.ids.numeric("5764", 18),
            shop_id=shop_id,
            status="UNPAID",
            is_on_hold_order=on_hold_flow,
            create_time=now,
            update_time=now,
            line_items=lines,
            delivery_option_id=shop.delivery_option_id,
            user_id=market.ids.numeric("70", 19),
            buyer_email=f"{market.ids.token('', 12)}@scs.tiktok.com",
            address=catalog.sample_address(shop.region),
        )
        market.orders[order.id] = order
        self.status_changed(order, now)
        return order

    def pay(self, order_id: str) -> Order:
        order = self.market.order(order_id)
        if order.status != "UNPAID":
            raise SandboxError(f"order {order_id} is {order.status}, not UNPAID: nothing to pay")
        now = self.market.clock.now()
        order.paid_time = now
        order.status = "ON_HOLD" if order.is_on_hold_order else "AWAITING_SHIPMENT"
        self.status_changed(order, now)
        return order

    def fail_payment(self, order_id: str) -> Order:
        """A declined payment leaves the order UNPAID: the buyer may retry for 24 h."""
        order = self.market.order(order_id)
        if order.status != "UNPAID":
            raise SandboxError(f"order {order_id} is {order.status}, not UNPAID")
        order.failed_payments += 1
        return order

    def free_cancel_open(self, order: Order, now: datetime) -> bool:
        if order.status in ("UNPAID", "ON_HOLD"):
            return True
        # §3.1: with is_on_hold_order=false the remorse hour runs after AWAITING_SHIPMENT.
        return (
            order.status == "AWAITING_SHIPMENT"
            and not order.is_on_hold_order
            and order.paid_time is not None
            and now < order.paid_time + REMORSE_WINDOW
        )

    def buyer_cancel(self, order_id: str, reason: str = catalog.BUYER_CANCEL_REASON) -> Order:
        order = self.market.order(order_id)
        now = self.market.clock.now()
        if not self.free_cancel_open(order, now):
            raise SandboxError(
                f"order {order_id} is {order.status} and past the remorse hour: a buyer can only "
                "request a cancellation now"
            )
        # §4.2: TikTok approves a remorse-window cancel on the seller's behalf; type CANCEL.
        self.cancel_directly(order, "BUYER", reason, now)
        return order

    def fraud_cancel(self, order_id: str) -> Order:
        order = self.market.order(order_id)
        if order.status not in ("UNPAID", "ON_HOLD", "AWAITING_SHIPMENT"):
            raise SandboxError(f"order {order_id} is {order.status}: too late for a risk cancel")
        self.cancel_directly(order, "SYSTEM", catalog.FRAUD_REASON, self.market.clock.now())
        return order

    def request_cancellation(
        self, order_id: str, reason: str = catalog.BUYER_CANCEL_REASON
    ) -> Cancellation:
        order = self.market.order(order_id)
        now = self.market.clock.now()
        if self.free_cancel_open(order, now):
            raise SandboxError(f"order {order_id} is still in its free-cancel window: cancel it")
        if order.status != "AWAITING_SHIPMENT":
            raise SandboxError(f"order {order_id} is {order.status}: no cancellation request now")
        if order.is_buyer_request_cancel:
            raise SandboxError(f"order {order_id} already has a pending cancellation request")
        request = self._new_cancellation(order, "BUYER_CANCEL", "BUYER", reason, now, PENDING)
        request.deadline = now + SELLER_RESPONSE_WINDOW
        order.is_buyer_request_cancel = True
        order.request_cancel_time = now
        order.update_time = now
        self._cancellation_changed(request)
        return request

    def carrier_collect(self, order_id: str) -> Order:
        """The carrier scanned every package: AWAITING_COLLECTION -> IN_TRANSIT."""
        return self._carrier_step(order_id, "AWAITING_COLLECTION", "IN_TRANSIT")

    def deliver(self, order_id: str) -> Order:
        return self._carrier_step(order_id, "IN_TRANSIT", "DELIVERED")

    def _carrier_step(self, order_id: str, before: str, after: str) -> Order:
        """Moves the order, and the other orders of a combined parcel with it (one parcel,
        one carrier scan)."""
        order = self.market.order(order_id)
        if order.status != before:
            raise SandboxError(f"order {order_id} is {order.status}, not {before}")
        now = self.market.clock.now()
        companions = [o for o in self.packages.parcel_companions(order) if o.status == before]
        for moving in (order, *companions):
            if after == "IN_TRANSIT":
                moving.collection_time = now
            else:
                moving.delivery_time = now
            moving.status = after
            self.packages.carrier_moved(moving, after, now)
            self.status_changed(moving, now)
        return order

    def cancel_items(
        self,
        order_id: str,
        line_item_ids: Sequence[str],
        role: str = "SYSTEM",
        reason: str | None = None,
    ) -> Cancellation:
        """TikTok (SYSTEM, OPERATOR) or the seller cancels some units of the order. Any live
        unit may go when TikTok cancels (a lost parcel, say); the seller only cancels units
        that have not shipped. Covering every live unit cancels the whole order."""
        if role not in CANCEL_ROLES:
            raise ValueError(f"role must be one of {', '.join(CANCEL_ROLES)}, got {role!r}")
        order = self.market.order(order_id)
        if order.status in ("CANCELLED", "DELIVERED", "COMPLETED"):
            raise SandboxError(f"order {order_id} is {order.status}: nothing left to cancel")
        by_id = {line.id: line for line in order.line_items}
        ids = list(dict.fromkeys(str(i) for i in line_item_ids))
        if not ids:
            raise SandboxError("name at least one line item to cancel")
        for line_id in ids:
            line = by_id.get(line_id)
            if line is None:
                raise SandboxError(f"line item {line_id} is not in order {order_id}")
            if line.cancelled:
                raise SandboxError(f"line item {line_id} is already cancelled")
            if role == "SELLER" and self.packages.is_shipped(line):
                raise SandboxError(f"line item {line_id} has shipped: a seller cannot cancel it")
        lines = [by_id[i] for i in ids]
        reason = reason or ITEM_CANCEL_REASONS[role]
        return self.cancel_units(order, lines, role, reason, self.market.clock.now())

    # -- timers ----------------------------------------------------------------------------

    def apply_due(self, now: datetime) -> int:
        """Fires every timer due at `now`, earliest first; returns how many fired."""
        fired = 0
        while True:
            due = self._next_due(now)
            if due is None:
                return fired
            at, action = due
            action(at)
            fired += 1

    def _next_due(self, now: datetime) -> tuple[datetime, Callable[[datetime], None]] | None:
        while self._timers and self._timers[0][0] <= now:
            due, _, kind, ref = heapq.heappop(self._timers)
            action = self._timer_action(due, kind, ref)
            if action is not None:
                return due, action
        return None

    def _timer_action(
        self, due: datetime, kind: str, ref: str
    ) -> Callable[[datetime], None] | None:
        """What a due timer does, if it still applies (else None: its order moved on)."""
        if kind == "request":
            request = self.market.cancellations.get(ref)
            if request is not None and request.status == PENDING and request.deadline == due:
                return self._autoapprove_request(request)
            return None
        order = self.market.orders.get(ref)
        if order is None:
            return None
        if kind == "unpaid" and order.status == "UNPAID":
            return self._unpaid_timeout(order)
        if kind == "hold" and order.status == "ON_HOLD" and order.paid_time is not None:
            return self._release_hold(order)
        return None

    def _schedule(self, order: Order | None = None, request: Cancellation | None = None) -> None:
        """Start the timer the order's or the request's new state runs, if any."""
        timer: tuple[datetime, str, str] | None = None
        if order is not None and order.status == "UNPAID":
            timer = (order.create_time + UNPAID_WINDOW, "unpaid", order.id)
        elif order is not None and order.status == "ON_HOLD" and order.paid_time is not None:
            timer = (order.paid_time + REMORSE_WINDOW, "hold", order.id)
        elif request is not None and request.status == PENDING and request.deadline is not None:
            timer = (request.deadline, "request", request.id)
        if timer is not None:
            due, kind, ref = timer
            heapq.heappush(self._timers, (due, next(self._timer_sequence), kind, ref))

    def _unpaid_timeout(self, order: Order) -> Callable[[datetime], None]:
        def cancel(at: datetime) -> None:
            self.cancel_directly(order, "SYSTEM", catalog.UNPAID_TIMEOUT_REASON, at)

        return cancel

    def _release_hold(self, order: Order) -> Callable[[datetime], None]:
        def release(at: datetime) -> None:
            order.status = "AWAITING_SHIPMENT"
            self.status_changed(order, at)

        return release

    def _autoapprove_request(self, request: Cancellation) -> Callable[[datetime], None]:
        return lambda at: self.approve_request(request, at)

    # -- steps shared with the seller's actions (seller.py) ----------------------------------

    def approve_request(self, request: Cancellation, at: datetime) -> None:
        order = self.market.order(request.order_id)
        self._set_cancel_status(request, SUCCESS, at)
        self._cancel_order(order, "BUYER", request.reason, at)
        self._set_cancel_status(request, COMPLETE, at)

    def close_request(self, request: Cancellation, at: datetime) -> None:
        order = self.market.order(request.order_id)
        order.is_buyer_request_cancel = False
        order.update_time = at
        self._set_cancel_status(request, CLOSED, at)

    def pending_requests(self, order: Order) -> list[Cancellation]:
        return [
            c
            for c in self.market.cancellations.values()
            if c.order_id == order.id and c.status == PENDING
        ]

    def cancel_directly(self, order: Order, role: str, reason: str, at: datetime) -> Cancellation:
        record = self._new_cancellation(order, "CANCEL", role, reason, at, COMPLETE)
        for request in self.pending_requests(order):
            self.close_request(request, at)
        self._cancel_order(order, role, reason, at)
        self._cancellation_changed(record)
        return record

    def cancel_units(
        self, order: Order, lines: Sequence[LineItem], role: str, reason: str, at: datetime
    ) -> Cancellation:
        """Cancels these live units at once (one record, type 11); the whole order when they
        are all its live units. Only a move from PARTIALLY_SHIPPING to AWAITING_COLLECTION
        (what is left has all shipped) changes the order's status."""
        live = [line for line in order.line_items if not line.cancelled]
        if {line.id for line in lines} == {line.id for line in live}:
            return self.cancel_directly(order, role, reason, at)
        record = self._new_cancellation(order, "CANCEL", role, reason, at, COMPLETE, lines)
        for line in lines:
            self._cancel_unit(order, line, role, reason, at)
        self.packages.settle_shipping_status(order, at)
        self._cancellation_changed(record)
        return record

    def _cancel_unit(
        self, order: Order, line: LineItem, role: str, reason: str, at: datetime
    ) -> None:
        shipped = self.packages.is_shipped(line)
        # Every cancellation gives the unit back to TikTok's count (a shipped one too).
        self.market.return_unit(self.market.skus[line.sku_id], line.warehouse_id, shipped)
        line.cancel_user = role
        line.cancel_reason = reason
        self.packages.unit_cancelled(order, line, at)

    def _cancel_order(self, order: Order, initiator: str, reason: str, at: datetime) -> None:
        for line in order.line_items:
            if not line.cancelled:
                self._cancel_unit(order, line, initiator, reason, at)
        order.status = "CANCELLED"
        order.cancel_time = at
        order.cancel_reason = reason
        order.cancellation_initiator = initiator
        order.is_buyer_request_cancel = False
        self.status_changed(order, at)

    def _new_cancellation(
        self,
        order: Order,
        cancel_type: str,
        role: str,
        reason: str,
        at: datetime,
        status: str,
        lines: Sequence[LineItem] | None = None,
    ) -> Cancellation:
        """A record of the units it cancels: `lines`, or every live unit of the order."""
        if lines is None:
            lines = [line for line in order.line_items if not line.cancelled]
        record = Cancellation(
            id=self.market.ids.numeric("4035"),
            order_id=order.id,
            shop_id=order.shop_id,
            cancel_type=cancel_type,
            status=status,
            role=role,
            reason=reason,
            create_time=at,
            update_time=at,
            line_item_ids=[line.id for line in lines],
        )
        self.market.cancellations[record.id] = record
        return record

    def _set_cancel_status(self, request: Cancellation, status: str, at: datetime) -> None:
        request.status = status
        request.update_time = at
        self._cancellation_changed(request)

    def status_changed(self, order: Order, at: datetime) -> None:
        order.update_time = at
        self._schedule(order=order)
        data = {
            "order_id": order.id,
            "order_status": order.status,
            "is_on_hold_order": order.is_on_hold_order,
            "update_time": unix(at),
        }
        self._notify(order.shop_id, ORDER_STATUS_CHANGE, data)

    def _cancellation_changed(self, request: Cancellation) -> None:
        self._schedule(request=request)
        data = {
            "order_id": request.order_id,
            "cancellations_role": request.role,
            "cancel_status": request.status,
            "cancel_id": request.id,
            "create_time": unix(request.create_time),
        }
        self._notify(request.shop_id, CANCELLATION_STATUS_CHANGE, data)
