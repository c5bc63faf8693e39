"""Packages (wave2 §5): the parcels an order's units travel in.

A package comes to be in one of two ways:
- before shipping, TikTok splits an order or combines orders of one shop (the control API
  plays TikTok here). Such a package is TO_FULFILL, and its id changes with every later split,
  combine or uncombine (wave2 §5.2: "never cache a package id as stable");
- at shipping: Mark Package As Shipped ships a pre-shipping package whole or packs the units
  it lists into a new package (§4.3); Ship Package ships a pre-shipping package.
Shipped packages follow the carrier: PROCESSING (awaiting collection), FULFILLING (in transit),
COMPLETED (delivered); CANCELLED once every unit in them is cancelled.

Every split, combine and uncombine sends a PACKAGE_UPDATE (type 4) webhook (§2.7, wave2 §5.3).
A unit cancelled out of a pre-shipping package just leaves it, without a webhook (the meaning
of `PARTLY_CANCEL_SPLIT` and its siblings is UNCONFIRMED, wave2 §5.3).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from shopbridge_sandbox.tiktok.errors import SandboxError
from shopbridge_sandbox.tiktok.models import (
    FULFILLING,
    PACKAGE_CANCELLED,
    PACKAGE_COMPLETED,
    PROCESSING,
    LineItem,
    Order,
    Package,
)
from shopbridge_sandbox.tiktok.state import Marketplace

PACKAGE_UPDATE = 4

DEFAULT = "DEFAULT"
COMBINE = "COMBINE"
SPLIT = "SPLIT"

# The package status a carrier step leaves a shipped package in.
CARRIER_PACKAGE_STATUS = {"IN_TRANSIT": FULFILLING, "DELIVERED": PACKAGE_COMPLETED}

Notify = Callable[[str, int, dict[str, Any]], None]
StatusChanged = Callable[[Order, datetime], None]
Contents = list[tuple[Order, list[LineItem]]]


class PackageDesk:
    def __init__(self, market: Marketplace, notify: Notify, status_changed: StatusChanged) -> None:
        self.market = market
        self._notify = notify
        self._status_changed = status_changed

    # -- reading -----------------------------------------------------------------------------

    def is_shipped(self, line: LineItem) -> bool:
        return line.package_id is not None and self.market.packages[line.package_id].shipped

    def unshipped(self, order: Order) -> list[LineItem]:
        """The order's live units that have not left yet."""
        return [li for li in order.line_items if not li.cancelled and not self.is_shipped(li)]

    def pre_shipping(self, order: Order) -> list[Package]:
        return [p for p in order.packages if not p.shipped]

    def contents(self, package: Package) -> Contents:
        """Each order of the package with its units in it."""
        found: Contents = []
        for order_id in package.order_ids:
            order = self.market.order(order_id)
            found.append((order, [li for li in order.line_items if li.package_id == package.id]))
        return found

    # -- TikTok's side (the control API) -------------------------------------------------------

    def combine(self, shop_id: str, order_ids: Sequence[str]) -> Package:
        """One pre-shipping package holding every live unit of these orders (wave2 §5.2)."""
        self.market.shop(shop_id)
        ids = list(dict.fromkeys(str(i) for i in order_ids))
        if len(ids) < 2:
            raise SandboxError("a combine needs at least two orders")
        orders = [self.market.order(order_id) for order_id in ids]
        for order in orders:
            if order.shop_id != shop_id:
                raise SandboxError(f"order {order.id} is not an order of shop {shop_id}")
            self._require_packable(order)
        now = self.market.clock.now()
        package = self._new(shop_id, [(o, self.unshipped(o)) for o in orders], COMBINE, now)
        for order in orders:
            order.update_time = now
        self._package_update("COMBINE", [package], now)
        return package

    def uncombine(self, package_id: str) -> Package:
        """Dissolves a combined package that has not shipped; its units are package-less again."""
        package = self.market.package(package_id)
        if package.tag != COMBINE:
            raise SandboxError(f"package {package_id} is not a combined package")
        if package.shipped:
            raise SandboxError(f"package {package_id} has shipped: too late to uncombine")
        now = self.market.clock.now()
        orders = [order for order, _ in self.contents(package)]
        self._dissolve(package)
        for order in orders:
            order.update_time = now
        self._package_update("CANCEL_COMBINE", [package], now)
        return package

    def split(self, order_id: str, groups: Sequence[Sequence[str]]) -> list[Package]:
        """A pre-shipping package per group; the groups hold every live unit exactly once."""
        order = self.market.order(order_id)
        if any(p.tag == COMBINE for p in self.pre_shipping(order)):
            raise SandboxError(f"order {order_id} is combined with others: uncombine it first")
        self._require_packable(order, resplit=True)
        parts = [list(dict.fromkeys(str(i) for i in group)) for group in groups]
        if len(parts) < 2 or not all(parts):
            raise SandboxError("a split needs at least two groups of line item ids")
        flat = [line_id for part in parts for line_id in part]
        if len(flat) != len(set(flat)):
            raise SandboxError("a line item can be in one group only")
        live = {li.id: li for li in self.unshipped(order)}
        if set(flat) != set(live):
            raise SandboxError(
                f"the groups must hold every live line item of order {order_id} "
                f"({sorted(live)}), and nothing else"
            )
        now = self.market.clock.now()
        for old in self.pre_shipping(order):
            self._dissolve(old)
        packages = [
            self._new(order.shop_id, [(order, [live[i] for i in part])], SPLIT, now)
            for part in parts
        ]
        order.update_time = now
        self._package_update("SPLIT", packages, now)
        return packages

    def _require_packable(self, order: Order, resplit: bool = False) -> None:
        if order.status != "AWAITING_SHIPMENT":
            raise SandboxError(
                f"order {order.id} is {order.status}: only AWAITING_SHIPMENT orders are "
                "split or combined"
            )
        if self.pre_shipping(order) and not resplit:
            ids = ", ".join(p.id for p in self.pre_shipping(order))
            raise SandboxError(f"order {order.id} is already packed (package {ids})")

    # -- steps shared with the seller's shipping and with cancellations -------------------------

    def ship(
        self,
        package: Package | None,
        contents: Contents,
        provider_id: str,
        provider_name: str,
        tracking_number: str,
        now: datetime,
    ) -> Package:
        """Ships a pre-shipping `package` whole, or (None) a new package of `contents`."""
        if package is None:
            (order, lines), *others = contents
            whole = not others and {li.id for li in lines} == {
                li.id for li in order.line_items if not li.cancelled
            }
            package = self._new(order.shop_id, contents, DEFAULT if whole else SPLIT, now)
        contents = self.contents(package)
        package.tracking_number = tracking_number
        package.shipping_provider_id = provider_id
        package.shipping_provider_name = provider_name
        package.shipped_at = package.update_time = now
        package.status = PROCESSING
        for order, lines in contents:
            for line in lines:
                self.market.ship_unit(self.market.skus[line.sku_id], line.warehouse_id)
            order.rts_time = now
            self._retag(order)
            self.settle_shipping_status(order, now)
        return package

    def settle_shipping_status(self, order: Order, now: datetime) -> None:
        """PARTIALLY_SHIPPING while live units wait, AWAITING_COLLECTION once all have left
        (wave2 §5.4); any other move of update_time without a status change sends nothing."""
        shipped_any = any(self.is_shipped(li) for li in order.line_items if not li.cancelled)
        if order.status not in ("AWAITING_SHIPMENT", "PARTIALLY_SHIPPING") or not shipped_any:
            order.update_time = now
            return
        status = "PARTIALLY_SHIPPING" if self.unshipped(order) else "AWAITING_COLLECTION"
        if status == order.status:
            order.update_time = now
        else:
            order.status = status
            self._status_changed(order, now)

    def unit_cancelled(self, order: Order, line: LineItem, now: datetime) -> None:
        """A cancelled unit leaves its pre-shipping package; a shipped package whose every unit
        is cancelled is CANCELLED."""
        if line.package_id is None:
            return
        package = self.market.packages[line.package_id]
        if not package.shipped:
            self._detach(order, line)
            return
        units = [li for _, lines in self.contents(package) for li in lines]
        if all(li.cancelled for li in units):
            package.status = PACKAGE_CANCELLED
            package.update_time = now

    def carrier_moved(self, order: Order, status: str, now: datetime) -> None:
        for package in order.packages:
            if package.shipped and package.status != PACKAGE_CANCELLED:
                package.status = CARRIER_PACKAGE_STATUS.get(status, package.status)
                package.update_time = now

    def parcel_companions(self, order: Order) -> list[Order]:
        """Other orders that travel in one of this order's shipped (combined) packages."""
        found: dict[str, Order] = {}
        for package in order.packages:
            if package.shipped:
                for other_id in package.order_ids:
                    if other_id != order.id:
                        found[other_id] = self.market.order(other_id)
        return list(found.values())

    # -- bookkeeping ---------------------------------------------------------------------------

    def _new(self, shop_id: str, contents: Contents, tag: str, now: datetime) -> Package:
        for order, lines in contents:
            for line in lines:
                if line.package_id is not None:
                    self._detach(order, line)
        package = Package(
            id=self.market.ids.numeric("11530"),
            shop_id=shop_id,
            line_item_ids=[li.id for _, lines in contents for li in lines],
            order_ids=[order.id for order, lines in contents if lines],
            tag=tag,
            create_time=now,
            update_time=now,
        )
        self.market.packages[package.id] = package
        for order, lines in contents:
            for line in lines:
                line.package_id = package.id
            if lines:
                order.packages.append(package)
                self._retag(order)
        return package

    def _detach(self, order: Order, line: LineItem) -> None:
        package = self.market.packages[str(line.package_id)]
        line.package_id = None
        package.line_item_ids.remove(line.id)
        if not any(li.package_id == package.id for li in order.line_items):
            package.order_ids.remove(order.id)
            order.packages.remove(package)
        if not package.line_item_ids:
            package.dissolved = True
        self._retag(order)

    def _dissolve(self, package: Package) -> None:
        """The package is gone; its record keeps what it held (for the webhook and the log)."""
        for order, lines in self.contents(package):
            for line in lines:
                line.package_id = None
            order.packages.remove(package)
            self._retag(order)
        package.dissolved = True

    def _retag(self, order: Order) -> None:
        """split_or_combine_tag (§3.2): COMBINED when packed with other orders, SPLIT when its
        units go (or went) in several packages or in a split package."""
        tags = {p.tag for p in order.packages}
        if COMBINE in tags:
            order.split_or_combine_tag = "COMBINED"
        elif SPLIT in tags or len(order.packages) > 1:
            order.split_or_combine_tag = "SPLIT"
        else:
            order.split_or_combine_tag = None

    def _package_update(self, sc_type: str, packages: list[Package], now: datetime) -> None:
        data = {
            "sc_type": sc_type,
            "role_type": "ROLE_SYSTEM",
            "package_list": [
                {"package_id": p.id, "order_id_list": list(p.order_ids)} for p in packages
            ],
            "update_time": int(now.timestamp()),
        }
        self._notify(packages[0].shop_id, PACKAGE_UPDATE, data)
