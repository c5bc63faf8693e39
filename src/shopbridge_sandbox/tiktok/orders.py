"""The order lifecycle of tiktok_shop_api.md §3.1 and §7, with its cancellations.

UNPAID -> ON_HOLD -> AWAITING_SHIPMENT (US/UK "on hold" flow: 1 h after paid_time), or
UNPAID -> AWAITING_SHIPMENT at payment (is_on_hold_order=false, the remorse hour still runs).
Buyers cancel freely while UNPAID, ON_HOLD or inside the remorse hour; later a buyer cancel is a
request the seller answers within 48 h, else TikTok approves it. Unpaid orders are cancelled
24 h after create_time. Every status change moves `update_time` and notifies (webhook type 1);
every cancellation status change notifies too (type 11). Opening or closing a buyer request
also moves `update_time` (the order's is_buyer_request_cancel changed), without a type 1.

Buyer and platform actions (pay, buyer cancel, ...) raise `SandboxError`; the seller's actions,
which arrive through the API with TikTok's error codes, live in `seller.py`.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from shopbridge_sandbox.tiktok import catalog
from shopbridge_sandbox.tiktok.errors import NotFound, SandboxError
from shopbridge_sandbox.tiktok.models import Cancellation, LineItem, Order
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
        order = self.market.order(order_id)
        if order.status != before:
            raise SandboxError(f"order {order_id} is {order.status}, not {before}")
        now = self.market.clock.now()
        if after == "IN_TRANSIT":
            order.collection_time = now
        else:
            order.delivery_time = now
        order.status = after
        self.status_changed(order, now)
        return order

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

    def _cancel_order(self, order: Order, initiator: str, reason: str, at: datetime) -> None:
        for line in order.line_items:  # every cancellation gives the units back
            shipped = line.package_id is not None
            self.market.return_unit(self.market.skus[line.sku_id], line.warehouse_id, shipped)
        order.status = "CANCELLED"
        order.cancel_time = at
        order.cancel_reason = reason
        order.cancellation_initiator = initiator
        order.is_buyer_request_cancel = False
        self.status_changed(order, at)

    def _new_cancellation(
        self, order: Order, cancel_type: str, role: str, reason: str, at: datetime, status: str
    ) -> Cancellation:
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
            line_item_ids=[line.id for line in order.line_items],
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
