"""The seller's side of orders, as the API exposes it (§4.2, §4.3): answering cancellation
requests, cancelling, marking packages shipped. Refusals are `ApiError`s with TikTok's codes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from shopbridge_sandbox.tiktok import catalog
from shopbridge_sandbox.tiktok import errors as e
from shopbridge_sandbox.tiktok.errors import ApiError
from shopbridge_sandbox.tiktok.models import Cancellation, LineItem, Order, Package, Shop
from shopbridge_sandbox.tiktok.orders import CLOSED, PENDING, OrderDesk
from shopbridge_sandbox.tiktok.state import Marketplace

TRACKING_FIX_WINDOW = timedelta(hours=72)


class SellerDesk:
    def __init__(self, market: Marketplace, desk: OrderDesk) -> None:
        self.market = market
        self.desk = desk

    def owned_order(self, shop: Shop, order_id: str) -> Order:
        order = self.market.orders.get(order_id)
        if order is None or order.shop_id != shop.id:
            raise ApiError(e.ORDER_NOT_OWNED, f"Order {order_id} does not belong to the seller")
        return order

    def owned_cancellation(self, shop: Shop, cancel_id: str) -> Cancellation:
        request = self.market.cancellations.get(cancel_id)
        if request is None or request.shop_id != shop.id:
            raise ApiError(e.UNKNOWN_CANCELLATION, f"Cancellation {cancel_id} does not exist")
        return request

    def approve(self, shop: Shop, cancel_id: str) -> None:
        request = self.owned_cancellation(shop, cancel_id)
        self._require_pending(request, "approve")
        self.desk.approve_request(request, self.market.clock.now())

    def reject(self, shop: Shop, cancel_id: str, reject_reason: str) -> None:
        request = self.owned_cancellation(shop, cancel_id)
        if shop.region == "US":
            raise ApiError(
                e.US_REJECT_RETIRED,
                "Reject Cancellation is no longer available for US shops: ship the package "
                "(Mark Package As Shipped) to reject the buyer's request",
            )
        if reject_reason not in catalog.REJECT_REASONS:
            raise e.bad_parameter(f"reject_reason {reject_reason!r} is not a valid reason")
        self._require_pending(request, "reject")
        self.desk.close_request(request, self.market.clock.now())

    def seller_cancel(
        self, shop: Shop, order_id: str, reason: str, line_item_ids: Iterable[str]
    ) -> Cancellation:
        order = self.owned_order(shop, order_id)
        partial = set(line_item_ids)
        if partial and partial != {line.id for line in order.line_items}:
            # Item-level cancels (US/UK out of stock, §4.2) are not simulated.
            raise ApiError(e.PARTIAL_CANCEL_REFUSED, "Cannot cancel individual line items")
        if order.status in ("CANCELLED", "COMPLETED", "DELIVERED"):
            raise ApiError(e.ORDER_FINISHED, f"Order {order_id} is completed or cancelled")
        if order.is_buyer_request_cancel:
            raise ApiError(e.CANCEL_IN_PROCESS, f"Order {order_id} has a cancellation in process")
        # §7: only US sellers may cancel in AWAITING_COLLECTION.
        shipped_ok = order.status == "AWAITING_COLLECTION" and shop.region == "US"
        if order.status not in ("UNPAID", "ON_HOLD", "AWAITING_SHIPMENT") and not shipped_ok:
            raise ApiError(e.SHIPPED_CANNOT_CANCEL, f"Order {order_id} has already shipped")
        allowed = catalog.seller_cancel_reasons(order.status, shop.region)
        if reason not in allowed:
            raise ApiError(
                e.CANCEL_REASON_MISMATCH,
                f"cancel_reason {reason!r} does not match order status {order.status}; "
                f"use one of {', '.join(allowed)}",
            )
        return self.desk.cancel_directly(order, "SELLER", reason, self.market.clock.now())

    def ship(
        self,
        shop: Shop,
        order_id: str,
        tracking_number: str,
        shipping_provider_id: str,
        line_item_ids: list[str],
    ) -> Package:
        order = self.owned_order(shop, order_id)
        if order.status == "ON_HOLD":
            raise ApiError(
                e.ORDER_ON_HOLD, "The order is on hold; wait until it is AWAITING_SHIPMENT"
            )
        if order.status in ("UNPAID", "CANCELLED"):
            raise ApiError(e.ORDER_NOT_SHIPPABLE, f"Order status {order.status} cannot be shipped")
        if order.status not in ("AWAITING_SHIPMENT", "PARTIALLY_SHIPPING"):
            raise ApiError(e.ALREADY_SHIPPED, f"Order {order_id} has already been shipped")
        provider = self._provider(shop, order, shipping_provider_id, tracking_number)
        lines = self._lines_to_ship(order, line_item_ids)
        now = self.market.clock.now()
        if order.is_buyer_request_cancel:
            if shop.region != "US":
                raise ApiError(e.AFTER_SALE_REQUEST, "Package item has after-sale request")
            # §4.2: since 31 Mar 2024 shipping a US order auto-rejects the buyer's request.
            for request in self.desk.pending_requests(order):
                self.desk.close_request(request, now)
        package = Package(
            id=self.market.ids.numeric("11530"),
            line_item_ids=[line.id for line in lines],
            tracking_number=tracking_number,
            shipping_provider_id=provider.id,
            shipping_provider_name=provider.name,
            shipped_at=now,
        )
        for line in lines:
            line.package_id = package.id
            self.market.ship_unit(self.market.skus[line.sku_id], line.warehouse_id)
        order.packages.append(package)
        order.rts_time = now
        unshipped = [line for line in order.line_items if line.package_id is None]
        status = "PARTIALLY_SHIPPING" if unshipped else "AWAITING_COLLECTION"
        if status == order.status:  # another package of a split shipment: no status change
            order.update_time = now
        else:
            order.status = status
            self.desk.status_changed(order, now)
        return package

    def update_tracking(
        self, shop: Shop, order_id: str, tracking_number: str, shipping_provider_id: str
    ) -> Package:
        """Fixes a wrong tracking number (§4.3: US/UK/SEA once, within 72 h of shipping)."""
        order = self.owned_order(shop, order_id)
        if not order.packages or order.status == "CANCELLED":
            raise ApiError(e.ORDER_NOT_SHIPPABLE, f"Order {order_id} has no shipped package")
        if len(order.packages) > 1:
            raise ApiError(
                e.TRACKING_FIX_SPLIT_ORDER, "Split orders are updated per package, not per order"
            )
        package = order.packages[0]
        now = self.market.clock.now()
        if now > package.shipped_at + TRACKING_FIX_WINDOW:
            raise ApiError(e.TRACKING_FIX_TOO_LATE, "Shipping info can change only within 72 h")
        if package.tracking_updates:
            raise ApiError(e.TRACKING_FIX_USED, "Shipping info can be changed only once")
        provider = self._provider(shop, order, shipping_provider_id, tracking_number)
        package.tracking_number = tracking_number
        package.shipping_provider_id = provider.id
        package.shipping_provider_name = provider.name
        package.tracking_updates += 1
        order.update_time = now
        return package

    def _provider(
        self, shop: Shop, order: Order, shipping_provider_id: str, tracking_number: str
    ) -> catalog.ShippingProvider:
        if not tracking_number:
            raise e.bad_parameter("tracking_number is required")
        provider = next(
            (p for p in catalog.providers_for(shop.region) if p.id == shipping_provider_id), None
        )
        if provider is None:
            raise ApiError(
                e.UNKNOWN_SHIPPING_PROVIDER,
                f"shipping_provider_id {shipping_provider_id!r} is not a provider of delivery "
                f"option {order.delivery_option_id}",
            )
        if not provider.accepts(tracking_number):
            raise ApiError(
                e.TRACKING_PROVIDER_MISMATCH,
                f"Tracking number {tracking_number!r} does not match {provider.name}",
            )
        return provider

    def _lines_to_ship(self, order: Order, line_item_ids: list[str]) -> list[LineItem]:
        if not line_item_ids:
            return [line for line in order.line_items if line.package_id is None]
        by_id = {line.id: line for line in order.line_items}
        unknown = [i for i in line_item_ids if i not in by_id]
        if unknown:
            raise e.bad_parameter(f"order_line_item_ids {unknown} are not in order {order.id}")
        lines = [by_id[i] for i in dict.fromkeys(line_item_ids)]
        if any(line.package_id for line in lines):
            raise ApiError(e.ALREADY_SHIPPED, "Some of these line items have already shipped")
        return lines

    def _require_pending(self, request: Cancellation, verb: str) -> None:
        if request.status == CLOSED:
            raise ApiError(e.REQUEST_ALREADY_CANCELLED, "The reverse request has been cancelled")
        if request.status != PENDING:
            raise ApiError(
                e.STATUS_CANNOT_APPROVE,
                f"Cancellation {request.id} is {request.status}; cannot {verb} it",
            )
