"""The invariant checker: compare both platforms against workflow.md's rules, over HTTP.

It reads the sandboxes only through their control APIs (`driver`), so it works the same whether
they run in this process (the demo, the end-to-end tests) or in processes of their own (a
rehearsal). Some rules hold at every moment (one Shopify order per TikTok order, never released
early or unpaid); others only once the system has settled (every cancellation mirrored, every
live order mirrored, TikTok's stock following Shopify's under the stock rules).

`Observer` keeps the latest snapshot of every order of one shop pair and refreshes only what
changed since its last look, so a rehearsal can check every few seconds over thousands of orders.
Shopify is read before TikTok: whatever Shopify shows, TikTok's state read afterwards is at least
as new, so an order released at the very moment TikTok moved on is never seen as released early.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shopbridge.domain.stock import DEFAULT_RULE, tiktok_quantity
from shopbridge_sandbox.driver import ShopifyDriver, TikTokDriver


@dataclass(frozen=True)
class Breach:
    rule: str
    order_id: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: TikTok order {self.order_id}: {self.detail}"


def order_breaches(
    order: Mapping[str, Any],
    mirrors: Iterable[Mapping[str, Any]],
    holdback: timedelta,
    *,
    settled: bool,
) -> list[Breach]:
    """What is wrong about one TikTok order and its Shopify mirrors (snapshots)."""
    mirrors = list(mirrors)
    oid = str(order["id"])
    breaches: list[Breach] = []
    if len(mirrors) > 1:  # even a duplicate cancelled since was a second order in the admin
        names = ", ".join(m["name"] for m in mirrors)
        breaches.append(
            Breach("one mirror per order", oid, f"{len(mirrors)} Shopify orders: {names}")
        )
    status = order["status"]
    paid_time = _unix(order.get("paid_time"))
    for mirror in mirrors:
        for sale in (t for t in mirror["transactions"] if t["kind"] == "SALE"):
            marked = datetime.fromisoformat(sale["created_at"])
            if paid_time is None:
                breaches.append(
                    Breach(
                        "never release unpaid",
                        oid,
                        f"{mirror['name']} marked paid, TikTok has no payment",
                    )
                )
            elif marked < paid_time + holdback:
                breaches.append(
                    Breach(
                        "never release early",
                        oid,
                        f"{mirror['name']} marked paid at {marked:%H:%M:%S}, "
                        f"before {paid_time + holdback:%H:%M:%S}",
                    )
                )
        # Released = held once, open now. An order not yet held is in its (measured) unheld
        # window between orderCreate and the hold, which `Timing.open_for` reports.
        released = any(
            fo["status"] == "OPEN" and fo.get("first_held_at")
            for fo in mirror["fulfillment_orders"]
        )
        if released and status in ("UNPAID", "ON_HOLD") and not mirror["cancelled_at"]:
            breaches.append(
                Breach(
                    "never release early",
                    oid,
                    f"{mirror['name']} is fulfillable while TikTok says {status}",
                )
            )
    if not settled:
        return breaches
    breaches += _unit_breaches(oid, order, mirrors)
    if status == "CANCELLED":
        for mirror in mirrors:
            if not mirror["cancelled_at"] and not mirror["fulfillments"]:
                breaches.append(
                    Breach("cancellations are mirrored", oid, f"{mirror['name']} is still open")
                )
    elif not mirrors:
        breaches.append(Breach("reserve fast", oid, f"TikTok status {status}, no Shopify order"))
    return breaches


_WAITING = frozenset({"UNPAID", "ON_HOLD", "AWAITING_SHIPMENT", "PARTIALLY_SHIPPING"})


def _unit_breaches(
    oid: str, order: Mapping[str, Any], mirrors: list[Mapping[str, Any]]
) -> list[Breach]:
    """Units, once settled: Shopify waits to ship only units TikTok still has live and
    unshipped (so a cancelled unit is never shipped), and holds exactly those: it removed the
    cancelled units and nothing more."""
    waiting: dict[str, int] = {}
    for line in order.get("line_items") or ():
        if str(line.get("display_status")) in _WAITING and order.get("status") != "CANCELLED":
            sku = str(line.get("seller_sku"))
            waiting[sku] = waiting.get(sku, 0) + 1
    found: list[Breach] = []
    for mirror in mirrors:
        if mirror["cancelled_at"]:
            continue
        unfulfilled: dict[str, int] = {}
        for line in mirror["line_items"]:
            sku = str(line["sku"])
            left = int(line["current_quantity"]) - int(line["fulfilled"])
            unfulfilled[sku] = unfulfilled.get(sku, 0) + left
        shipping = any(f["status"] != "CANCELLED" for f in mirror["fulfillments"])
        for sku in sorted(set(unfulfilled) | set(waiting)):
            shopify, tiktok = unfulfilled.get(sku, 0), waiting.get(sku, 0)
            if shopify > tiktok or (shopify < tiktok and not shipping):
                found.append(
                    Breach(
                        "units follow TikTok's",
                        oid,
                        f"{mirror['name']} has {shopify} × {sku} to ship, TikTok {tiktok}",
                    )
                )
    return found


@dataclass(frozen=True)
class Timing:
    """How long one order waited, in the sandboxes' clock time."""

    order_id: str
    reserved_after: timedelta  # TikTok order created → its Shopify order held
    open_for: timedelta  # Shopify order created → held: fulfillable without a hold


class Observer:
    """The latest snapshots of one TikTok shop and one Shopify store, refreshed incrementally."""

    def __init__(
        self,
        tiktok: TikTokDriver,
        shop_id: str,
        shopify: ShopifyDriver,
        shop_name: str,
        holdback: timedelta,
        skus: Iterable[str] = (),
        follows: Callable[[int], int] | None = None,
    ) -> None:
        self.tiktok, self.shop_id = tiktok, shop_id
        self.shopify, self.shop_name = shopify, shop_name
        self.holdback = holdback
        self.skus = tuple(skus)
        # What TikTok should show for Shopify's available count: the connection's stock rules
        # (by default shopbridge's: two units kept back).
        self.follows = follows or (lambda available: tiktok_quantity(available, DEFAULT_RULE))
        self.tiktok_orders: dict[str, dict[str, Any]] = {}
        self.shopify_orders: dict[str, dict[str, Any]] = {}
        self._tiktok_since: int | None = None
        self._shopify_since: datetime | None = None

    async def refresh(self, *, full: bool = False) -> set[str]:
        """Read what changed since the last look (everything if `full`); returns the TikTok
        order ids whose snapshots (on either platform) changed."""
        if full:
            self._tiktok_since, self._shopify_since = None, None
        touched: set[str] = set()
        # Shopify first (see the module docstring); each `since` is the newest change seen,
        # inclusive, so a change in the same instant as the last one seen is not missed.
        for snapshot in await self.shopify.orders(
            self.shop_name, updated_since=self._shopify_since
        ):
            self.shopify_orders[snapshot["id"]] = snapshot
            touched.add(str(snapshot.get("source_identifier")))
            updated = datetime.fromisoformat(snapshot["updated_at"])
            if self._shopify_since is None or updated > self._shopify_since:
                self._shopify_since = updated
        for order in await self.tiktok.orders(self.shop_id, updated_since=self._tiktok_since):
            self.tiktok_orders[str(order["id"])] = order
            touched.add(str(order["id"]))
            if self._tiktok_since is None or order["update_time"] > self._tiktok_since:
                self._tiktok_since = int(order["update_time"])
        return touched

    def _by_source(self) -> dict[str, list[dict[str, Any]]]:
        grouped: dict[str, list[dict[str, Any]]] = {}
        for snapshot in self.shopify_orders.values():
            grouped.setdefault(str(snapshot.get("source_identifier")), []).append(snapshot)
        return grouped

    async def breaches(self, *, settled: bool) -> list[Breach]:
        """Refresh (everything, when settled) and check every order, and stock when settled."""
        await self.refresh(full=settled)
        by_source = self._by_source()
        found: list[Breach] = []
        for order_id, order in self.tiktok_orders.items():
            found += order_breaches(
                order, by_source.get(order_id, []), self.holdback, settled=settled
            )
        if settled:
            found += await self.stock_breaches()
        return found

    async def changed_breaches(self) -> list[Breach]:
        """Refresh incrementally and check the always-rules of the orders that changed."""
        touched = await self.refresh()
        by_source = self._by_source()
        found: list[Breach] = []
        for order_id in touched:
            order = self.tiktok_orders.get(order_id)
            if order is not None:
                found += order_breaches(
                    order, by_source.get(order_id, []), self.holdback, settled=False
                )
        return found

    def unreserved(self) -> dict[str, int]:
        """Units of live TikTok orders that have no Shopify order: sold on TikTok, not yet
        out of Shopify's available count, so TikTok must not offer them again."""
        by_source = self._by_source()
        counts: dict[str, int] = {}
        for order_id, order in self.tiktok_orders.items():
            if order.get("status") == "CANCELLED" or by_source.get(order_id):
                continue
            for line in order.get("line_items") or ():
                if line.get("display_status") == "CANCELLED":
                    continue  # back on sale on TikTok
                sku = str(line.get("seller_sku"))
                counts[sku] = counts.get(sku, 0) + 1
        return counts

    async def stock_breaches(self) -> list[Breach]:
        found: list[Breach] = []
        unreserved = self.unreserved()
        for sku in self.skus:
            on_tiktok = await self.tiktok.inventory(self.shop_id, sku)
            on_shopify = (await self.shopify.inventory(self.shop_name, sku))["available"]
            owed = unreserved.get(sku, 0)
            expected = self.follows(on_shopify - owed)
            if on_tiktok != expected:
                also = f", {owed} in TikTok orders not in Shopify" if owed else ""
                found.append(
                    Breach(
                        "TikTok's stock follows Shopify's",
                        "-",
                        f"{sku}: TikTok {on_tiktok}, Shopify available {on_shopify}{also} "
                        f"(TikTok should show {expected})",
                    )
                )
        return found

    def timings(self) -> list[Timing]:
        """Reservation lag and unheld window of every order whose Shopify order was held."""
        timings: list[Timing] = []
        for order_id, mirrors in self._by_source().items():
            order = self.tiktok_orders.get(order_id)
            held: list[tuple[datetime, datetime]] = []
            for m in mirrors:
                starts = [_iso(fo.get("first_held_at")) for fo in m["fulfillment_orders"]]
                known = [s for s in starts if s is not None]
                if known and len(known) == len(starts):
                    # Fulfillable until every fulfilment order was held: the last hold counts.
                    held.append((datetime.fromisoformat(m["created_at"]), max(known)))
            if order is None or not held:
                continue
            created, first_held = min(held, key=lambda pair: pair[1])
            timings.append(
                Timing(
                    order_id,
                    reserved_after=first_held - _unix_required(order["create_time"]),
                    open_for=first_held - created,
                )
            )
        return timings


def _unix(value: Any) -> datetime | None:
    if value in (None, 0, ""):
        return None
    return datetime.fromtimestamp(int(value), UTC)


def _unix_required(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)


def _iso(value: Any) -> datetime | None:
    return None if not value else datetime.fromisoformat(str(value))
