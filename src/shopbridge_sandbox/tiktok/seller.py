"""The seller's side of orders, as the API exposes it (§4.2, §4.3, wave2 §4-5): answering
cancellation requests, cancelling orders or single units, shipping packages and fixing their
tracking. Refusals are `ApiError`s with TikTok's codes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from shopbridge_sandbox.tiktok import catalog
from shopbridge_sandbox.tiktok import errors as e
from shopbridge_sandbox.tiktok.errors import ApiError
from shopbridge_sandbox.tiktok.models import (
    PACKAGE_CANCELLED,
    Cancellation,
    LineItem,
    Order,
    Package,
    Shop,
)
from shopbridge_sandbox.tiktok.orders import CLOSED, PENDING, OrderDesk
from shopbridge_sandbox.tiktok.packages import COMBINE
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
        self,
        shop: Shop,
        order_id: str,
        reason: str,
        line_item_ids: Sequence[str] = (),
        skus: Sequence[tuple[str, int]] = (),
    ) -> Cancellation:
        """Cancel Order (§4.2): the whole order, or (US and UK, out of stock) some of its units
        named by line item id or by `(sku_id, quantity)`; line item ids win when both are given
        (which one TikTok prefers is UNCONFIRMED, wave2 §4)."""
        order = self.owned_order(shop, order_id)
        if order.status in ("CANCELLED", "COMPLETED", "DELIVERED"):
            raise ApiError(e.ORDER_FINISHED, f"Order {order_id} is completed or cancelled")
        if order.is_buyer_request_cancel:
            raise ApiError(e.CANCEL_IN_PROCESS, f"Order {order_id} has a cancellation in process")
        units = self._units_named(order, line_item_ids, skus)
        live = {line.id for line in order.line_items if not line.cancelled}
        if units is not None and {line.id for line in units} != live:
            return self._cancel_items(shop, order, reason, units)
        # §7: only US sellers may cancel in AWAITING_COLLECTION.
        shipped_ok = order.status == "AWAITING_COLLECTION" and shop.region == "US"
        if order.status not in ("UNPAID", "ON_HOLD", "AWAITING_SHIPMENT") and not shipped_ok:
            raise ApiError(e.SHIPPED_CANNOT_CANCEL, f"Order {order_id} has already shipped")
        self._require_reason(shop, order, reason)
        return self.desk.cancel_directly(order, "SELLER", reason, self.market.clock.now())

    def _units_named(
        self, order: Order, line_item_ids: Sequence[str], skus: Sequence[tuple[str, int]]
    ) -> list[LineItem] | None:
        """The units a Cancel Order names, or None when it names none (the whole order)."""
        if line_item_ids:
            by_id = {line.id: line for line in order.line_items}
            unknown = [i for i in line_item_ids if i not in by_id]
            if unknown:
                raise _over_limit(f"line items {unknown} are not in order {order.id}")
            return [by_id[i] for i in dict.fromkeys(line_item_ids)]
        if not skus:
            return None
        units: list[LineItem] = []
        for sku_id, quantity in skus:
            if quantity < 1:
                raise e.bad_parameter(f"skus: quantity of {sku_id} must be at least 1")
            left = [
                line
                for line in self.desk.packages.unshipped(order)
                if line.sku_id == sku_id and line not in units
            ]
            if quantity > len(left):
                raise _over_limit(f"order {order.id} has {len(left)} live unit(s) of sku {sku_id}")
            units += left[:quantity]
        return units

    def _cancel_items(
        self, shop: Shop, order: Order, reason: str, units: list[LineItem]
    ) -> Cancellation:
        # wave2 §4: "only US and UK sellers are allowed to do partial cancel on item out of
        # stock scenario".
        if shop.region not in ("US", "GB", "UK"):
            raise ApiError(
                e.PARTIAL_CANCEL_REFUSED,
                "Unable to cancel individual line items within this request: item-level "
                f"cancellation is available to US and UK shops only, not {shop.region}",
            )
        if not catalog.is_out_of_stock(reason):
            raise ApiError(
                e.PARTIAL_CANCEL_REFUSED,
                "Unable to cancel individual line items within this request: only an "
                f"out-of-stock reason cancels single items, not {reason!r}",
            )
        for line in units:
            if line.cancelled or self.desk.packages.is_shipped(line):
                state = "cancelled" if line.cancelled else "shipped"
                raise _over_limit(f"line item {line.id} is already {state}")
        if order.status not in ("UNPAID", "ON_HOLD", "AWAITING_SHIPMENT", "PARTIALLY_SHIPPING"):
            raise ApiError(e.SHIPPED_CANNOT_CANCEL, f"Order {order.id} has already shipped")
        self._require_reason(shop, order, reason)
        return self.desk.cancel_units(order, units, "SELLER", reason, self.market.clock.now())

    def _require_reason(self, shop: Shop, order: Order, reason: str) -> None:
        allowed = catalog.seller_cancel_reasons(order.status, shop.region)
        if reason not in allowed:
            raise ApiError(
                e.CANCEL_REASON_MISMATCH,
                f"cancel_reason {reason!r} does not match order status {order.status}; "
                f"use one of {', '.join(allowed)}",
            )

    # -- fulfilment --------------------------------------------------------------------------

    def owned_package(self, shop: Shop, package_id: str) -> Package:
        package = self.market.packages.get(package_id)
        if package is None or package.shop_id != shop.id or package.dissolved:
            raise ApiError(e.PACKAGE_NOT_OWNED, f"Package {package_id} does not exist in this shop")
        return package

    def ship(
        self,
        shop: Shop,
        order_id: str,
        tracking_number: str,
        shipping_provider_id: str,
        line_item_ids: list[str],
    ) -> tuple[Package, list[str]]:
        """Mark Package As Shipped (§4.3, wave2 §5.4); returns the package and the order's line
        items in it."""
        order = self.owned_order(shop, order_id)
        self._require_shippable(order)
        provider = self._provider(shop, order, shipping_provider_id, tracking_number)
        package, contents = self._shipment(order, line_item_ids)
        now = self.market.clock.now()
        orders = [o for o, _ in contents]
        self._settle_requests(shop, orders, now)
        package = self.desk.packages.ship(
            package, contents, provider.id, provider.name, tracking_number, now
        )
        ids = {line.id for line in order.line_items}
        return package, [i for i in package.line_item_ids if i in ids]

    def ship_package(
        self, shop: Shop, package_id: str, tracking_number: str, shipping_provider_id: str
    ) -> Package:
        """Ship Package with self_shipment (§4.3): every unit of a pre-shipping package, all
        orders of a combined one."""
        package = self.owned_package(shop, package_id)
        if package.shipped:
            raise ApiError(e.ALREADY_SHIPPED, f"Package {package_id} has already been shipped")
        contents = self.desk.packages.contents(package)
        orders = [o for o, _ in contents]
        for order in orders:
            self._require_shippable(order)
        provider = self._provider(shop, orders[0], shipping_provider_id, tracking_number)
        now = self.market.clock.now()
        self._settle_requests(shop, orders, now)
        return self.desk.packages.ship(
            package, contents, provider.id, provider.name, tracking_number, now
        )

    def _require_shippable(self, order: Order) -> None:
        if order.status == "ON_HOLD":
            raise ApiError(
                e.ORDER_ON_HOLD, "The order is on hold; wait until it is AWAITING_SHIPMENT"
            )
        if order.status in ("UNPAID", "CANCELLED"):
            raise ApiError(e.ORDER_NOT_SHIPPABLE, f"Order status {order.status} cannot be shipped")
        if order.status not in ("AWAITING_SHIPMENT", "PARTIALLY_SHIPPING"):
            raise ApiError(e.ALREADY_SHIPPED, f"Order {order.id} has already been shipped")

    def _settle_requests(self, shop: Shop, orders: list[Order], now: datetime) -> None:
        if not any(order.is_buyer_request_cancel for order in orders):
            return
        if shop.region != "US":
            raise ApiError(e.AFTER_SALE_REQUEST, "Package item has after-sale request")
        # §4.2: since 31 Mar 2024 shipping a US order auto-rejects the buyer's request.
        for order in orders:
            for request in self.desk.pending_requests(order):
                self.desk.close_request(request, now)

    def _shipment(
        self, order: Order, line_item_ids: list[str]
    ) -> tuple[Package | None, list[tuple[Order, list[LineItem]]]]:
        """What one Mark Package As Shipped ships: a pre-shipping package whole (kept id), or
        (None) these units in a new package."""
        packages = self.desk.packages
        pre = packages.pre_shipping(order)
        combined = next((p for p in pre if p.tag == COMBINE), None)
        if not line_item_ids:
            if combined is not None:
                return combined, packages.contents(combined)
            if len(pre) >= 2:
                raise ApiError(
                    e.SEVERAL_PACKAGES,
                    f"Order {order.id} has {len(pre)} packages to ship; specify the "
                    "order_line_item_ids of one of them",
                )
            unshipped = packages.unshipped(order)
            if len(pre) == 1 and set(pre[0].line_item_ids) == {li.id for li in unshipped}:
                return pre[0], packages.contents(pre[0])
            return None, [(order, unshipped)]
        by_id = {line.id: line for line in order.line_items}
        unknown = [i for i in line_item_ids if i not in by_id]
        if unknown:
            raise e.bad_parameter(f"order_line_item_ids {unknown} are not in order {order.id}")
        lines = [by_id[i] for i in dict.fromkeys(line_item_ids)]
        cancelled = [line.id for line in lines if line.cancelled]
        if cancelled:
            raise ApiError(
                e.INVALID_FULFILL_PARAMS,
                f"Invalid params: line items {cancelled} are cancelled and cannot ship",
            )
        if any(packages.is_shipped(line) for line in lines):
            raise ApiError(e.ALREADY_SHIPPED, "Some of these line items have already shipped")
        wanted = {line.id for line in lines}
        if combined is not None:
            share = {li.id for li in order.line_items if li.package_id == combined.id}
            if wanted != share:
                raise ApiError(
                    e.COMBINED_CANNOT_SPLIT,
                    f"Order {order.id} is combined in package {combined.id} and cannot be split",
                )
            return combined, packages.contents(combined)
        for package in pre:
            if set(package.line_item_ids) == wanted:
                return package, packages.contents(package)
        return None, [(order, lines)]

    def update_tracking(
        self, shop: Shop, order_id: str, tracking_number: str, shipping_provider_id: str
    ) -> Package:
        """Fixes a wrong tracking number of a whole order (§4.3: not for split orders)."""
        order = self.owned_order(shop, order_id)
        shipped = [p for p in order.packages if p.shipped]
        if not shipped or order.status == "CANCELLED":
            raise ApiError(e.ORDER_NOT_SHIPPABLE, f"Order {order_id} has no shipped package")
        if len(shipped) > 1 or order.split_or_combine_tag == "SPLIT":
            raise ApiError(
                e.TRACKING_FIX_SPLIT_ORDER, "Split orders are updated per package, not per order"
            )
        return self._fix_tracking(shop, shipped[0], tracking_number, shipping_provider_id)

    def update_package_tracking(
        self, shop: Shop, package_id: str, tracking_number: str, shipping_provider_id: str
    ) -> Package:
        """Update Package Shipping Info (wave2 §5.5)."""
        package = self.owned_package(shop, package_id)
        orders = [o for o, _ in self.desk.packages.contents(package)]
        if package.status == PACKAGE_CANCELLED or all(o.status == "CANCELLED" for o in orders):
            raise ApiError(e.TRACKING_FIX_ORDER_CANCELLED, "The order has been cancelled")
        if not package.shipped:
            raise ApiError(e.PACKAGE_NOT_SHIPPED, f"Package {package_id} has not shipped yet")
        return self._fix_tracking(shop, package, tracking_number, shipping_provider_id)

    def _fix_tracking(
        self, shop: Shop, package: Package, tracking_number: str, shipping_provider_id: str
    ) -> Package:
        """US/UK/SEA: once, within 72 h of shipping (§4.3, wave2 §5.5)."""
        now = self.market.clock.now()
        assert package.shipped_at is not None
        if now > package.shipped_at + TRACKING_FIX_WINDOW:
            raise ApiError(
                e.TRACKING_FIX_TOO_LATE,
                "Because of the platform rules limitations, updating the tracking number "
                "failed: shipping info can change only within 72 h of shipping",
            )
        if package.tracking_updates:
            raise ApiError(e.TRACKING_FIX_USED, "Shipping info can be changed only once")
        orders = [o for o, _ in self.desk.packages.contents(package)]
        provider = self._provider(shop, orders[0], shipping_provider_id, tracking_number)
        package.tracking_number = tracking_number
        package.shipping_provider_id = provider.id
        package.shipping_provider_name = provider.name
        package.tracking_updates += 1
        package.update_time = now
        for order in orders:
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

    def _require_pending(self, request: Cancellation, verb: str) -> None:
        if request.status == CLOSED:
            raise ApiError(e.REQUEST_ALREADY_CANCELLED, "The reverse request has been cancelled")
        if request.status != PENDING:
            raise ApiError(
                e.STATUS_CANNOT_APPROVE,
                f"Cancellation {request.id} is {request.status}; cannot {verb} it",
            )


def _over_limit(detail: str) -> ApiError:
    return ApiError(
        e.PARTIAL_CANCEL_OVER_LIMIT,
        f"The requested line item(s) exceeds the allowable limit: {detail}",
    )
