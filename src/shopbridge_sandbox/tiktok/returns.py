"""Returns and refunds after shipping (wave2 §6), driven by the control API (the buyer and
TikTok's side); the seller reads them through Search Returns.

A buyer asks for a REFUND (no goods back) while the order is AWAITING_COLLECTION, IN_TRANSIT
or DELIVERED, or for a RETURN_AND_REFUND once it is DELIVERED (or COMPLETED) (wave2 §6.3).
Statuses move along the real paths:

    RETURN_AND_REFUND: PENDING -> AWAITING_BUYER_SHIP -> BUYER_SHIPPED_ITEM -> SUCCESS -> COMPLETE
                       (BUYER_SHIPPED_ITEM -> REJECT_RECEIVE_PACKAGE -> SUCCESS by arbitration)
    REFUND:            PENDING -> SUCCESS -> COMPLETE
    any open one (PENDING, AWAITING_BUYER_SHIP, BUYER_SHIPPED_ITEM) -> CANCEL or REJECT

Every change moves update_time and sends a RETURN_STATUS_CHANGE (type 12) webhook. TikTok's
own stock does not change: restocking is the seller's business (wave2 §6.4).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from shopbridge_sandbox.tiktok.errors import SandboxError
from shopbridge_sandbox.tiktok.models import Return
from shopbridge_sandbox.tiktok.orders import unix
from shopbridge_sandbox.tiktok.packages import PackageDesk
from shopbridge_sandbox.tiktok.state import Marketplace

RETURN_STATUS_CHANGE = 12

PENDING = "RETURN_OR_REFUND_REQUEST_PENDING"
AWAITING_BUYER_SHIP = "AWAITING_BUYER_SHIP"
BUYER_SHIPPED_ITEM = "BUYER_SHIPPED_ITEM"
REJECT_RECEIVE_PACKAGE = "REJECT_RECEIVE_PACKAGE"
SUCCESS = "RETURN_OR_REFUND_REQUEST_SUCCESS"
COMPLETE = "RETURN_OR_REFUND_REQUEST_COMPLETE"
CANCEL = "RETURN_OR_REFUND_REQUEST_CANCEL"
REJECT = "REFUND_OR_RETURN_REQUEST_REJECT"

RETURN_TYPES = ("RETURN_AND_REFUND", "REFUND")
# Order statuses in which a buyer may open each type (wave2 §6.3).
OPEN_IN = {
    "RETURN_AND_REFUND": frozenset({"DELIVERED", "COMPLETED"}),
    "REFUND": frozenset({"AWAITING_COLLECTION", "IN_TRANSIT", "DELIVERED"}),
}
# The main path of each type, from the request to the refund.
MAIN_PATH = {
    "RETURN_AND_REFUND": (PENDING, AWAITING_BUYER_SHIP, BUYER_SHIPPED_ITEM, SUCCESS, COMPLETE),
    "REFUND": (PENDING, SUCCESS, COMPLETE),
}
OPEN = frozenset({PENDING, AWAITING_BUYER_SHIP, BUYER_SHIPPED_ITEM})
CLOSED_WITHOUT_REFUND = frozenset({CANCEL, REJECT})
# A return reason key (sandbox choice: TikTok's return reason list is not in the spec).
DEFAULT_REASON = "ecom_order_delivered_refund_and_return_reason_damaged_product"

Notify = Callable[[str, int, dict[str, Any]], None]


def next_statuses(request: Return) -> set[str]:
    """Where a return may go from its current status."""
    path = MAIN_PATH[request.return_type]
    moves: set[str] = set()
    if request.status in path[:-1]:
        moves.add(path[path.index(request.status) + 1])
    if request.status in OPEN:
        moves |= CLOSED_WITHOUT_REFUND
    if request.status == BUYER_SHIPPED_ITEM:
        moves.add(REJECT_RECEIVE_PACKAGE)
    if request.status == REJECT_RECEIVE_PACKAGE:
        moves.add(SUCCESS)  # arbitration found for the buyer (wave2 §6.4)
    return moves


class ReturnDesk:
    def __init__(self, market: Marketplace, packages: PackageDesk, notify: Notify) -> None:
        self.market = market
        self.packages = packages
        self._notify = notify

    def create(
        self,
        order_id: str,
        line_item_ids: Sequence[str],
        return_type: str = "RETURN_AND_REFUND",
        reason: str = DEFAULT_REASON,
    ) -> Return:
        """The buyer asks to return (or be refunded for) these shipped, live units."""
        if return_type not in RETURN_TYPES:
            raise ValueError(f"return_type must be one of {', '.join(RETURN_TYPES)}")
        order = self.market.order(order_id)
        if order.status not in OPEN_IN[return_type]:
            raise SandboxError(
                f"order {order_id} is {order.status}: a {return_type} request opens only in "
                f"{', '.join(sorted(OPEN_IN[return_type]))}"
            )
        ids = list(dict.fromkeys(str(i) for i in line_item_ids))
        if not ids:
            raise SandboxError("name at least one line item to return")
        by_id = {line.id: line for line in order.line_items}
        taken = self._units_in_returns(order_id)
        for line_id in ids:
            line = by_id.get(line_id)
            if line is None:
                raise SandboxError(f"line item {line_id} is not in order {order_id}")
            if line.cancelled or not self.packages.is_shipped(line):
                state = "cancelled" if line.cancelled else "not shipped"
                raise SandboxError(f"line item {line_id} is {state}: nothing to return")
            if line_id in taken:
                raise SandboxError(f"line item {line_id} is already in return {taken[line_id]}")
        now = self.market.clock.now()
        request = Return(
            id=self.market.ids.numeric("4036"),
            order_id=order.id,
            shop_id=order.shop_id,
            return_type=return_type,
            status=PENDING,
            role="BUYER",
            reason=reason or DEFAULT_REASON,
            create_time=now,
            update_time=now,
            line_items=[(self.market.ids.numeric("4036"), line_id) for line_id in ids],
        )
        self.market.returns[request.id] = request
        self._changed(request)
        return request

    def advance(self, return_id: str, status: str) -> Return:
        """Moves the return one step, or with `COMPLETE` (the full status name too) along every
        step left of its main path; each step notifies."""
        request = self.market.return_request(return_id)
        if status in ("COMPLETE", COMPLETE):
            steps = self._path_to_complete(request)
        elif status in next_statuses(request):
            steps = [status]
        else:
            raise SandboxError(
                f"return {return_id} is {request.status}: it cannot move to {status}; "
                f"next: {', '.join(sorted(next_statuses(request))) or 'nothing (final)'}"
            )
        for step in steps:
            request.status = step
            request.update_time = self.market.clock.now()
            self._changed(request)
        return request

    def _path_to_complete(self, request: Return) -> list[str]:
        path = MAIN_PATH[request.return_type]
        if request.status == REJECT_RECEIVE_PACKAGE:
            return [SUCCESS, COMPLETE]
        if request.status not in path[:-1]:
            raise SandboxError(
                f"return {request.id} is {request.status}: it can no longer complete"
            )
        return list(path[path.index(request.status) + 1 :])

    def _units_in_returns(self, order_id: str) -> dict[str, str]:
        """Units already in a return that did not end without a refund -> that return's id."""
        return {
            line_id: r.id
            for r in self.market.returns.values()
            if r.order_id == order_id and r.status not in CLOSED_WITHOUT_REFUND
            for _, line_id in r.line_items
        }

    def _changed(self, request: Return) -> None:
        data = {
            "order_id": request.order_id,
            "return_role": request.role,
            "return_type": request.return_type,
            "return_status": request.status,
            "return_id": request.id,
            "create_time": unix(request.create_time),
            "update_time": unix(request.update_time),
        }
        self._notify(request.shop_id, RETURN_STATUS_CHANGE, data)
