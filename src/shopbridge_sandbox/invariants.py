"""The invariant checker: compare both sandboxes and the bridge's store against workflow.md's rules.

Used by the demo and the end-to-end tests. Some rules hold at every moment (one Shopify order per
TikTok order, never released early or unpaid); others only once the system has settled (every
cancellation mirrored, every live order mirrored, stock equal on both platforms).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shopbridge.domain.policy import Policy
from shopbridge_sandbox.shopify import ShopifySandbox
from shopbridge_sandbox.tiktok import TikTokSandbox


@dataclass(frozen=True)
class Breach:
    rule: str
    order_id: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: TikTok order {self.order_id}: {self.detail}"


def check_invariants(
    tiktok: TikTokSandbox,
    shop_id: str,
    shopify: ShopifySandbox,
    shop_name: str,
    policy: Policy,
    *,
    settled: bool,
    skus: tuple[str, ...] = (),
) -> list[Breach]:
    breaches: list[Breach] = []
    tiktok_orders = {
        oid: tiktok.order(oid)
        for oid, order in list(tiktok.market.orders.items())
        if order.shop_id == shop_id
    }
    by_source: dict[str, list[dict[str, Any]]] = {}
    for order in shopify.orders(shop_name):
        by_source.setdefault(str(order.get("source_identifier")), []).append(order)
    counts = Counter({k: len(v) for k, v in by_source.items()})
    for oid, order in tiktok_orders.items():
        mirrors = by_source.get(oid, [])
        if counts[oid] > 1:
            names = ", ".join(m["name"] for m in mirrors)
            breaches.append(
                Breach("one mirror per order", oid, f"{counts[oid]} Shopify orders: {names}")
            )
        status = order["status"]
        paid_time = _time(order.get("paid_time"))
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
                elif marked < paid_time + policy.holdback:
                    breaches.append(
                        Breach(
                            "never release early",
                            oid,
                            f"{mirror['name']} marked paid at {marked:%H:%M:%S}, "
                            f"before {paid_time + policy.holdback:%H:%M:%S}",
                        )
                    )
            released = any(fo["status"] == "OPEN" for fo in mirror["fulfillment_orders"])
            if released and status in ("UNPAID", "ON_HOLD") and not mirror["cancelled_at"]:
                breaches.append(
                    Breach(
                        "never release early",
                        oid,
                        f"{mirror['name']} is fulfillable while TikTok says {status}",
                    )
                )
        if not settled:
            continue
        if status == "CANCELLED":
            for mirror in mirrors:
                if not mirror["cancelled_at"] and not mirror["fulfillments"]:
                    breaches.append(
                        Breach("cancellations are mirrored", oid, f"{mirror['name']} is still open")
                    )
        elif not mirrors:
            breaches.append(
                Breach("reserve fast", oid, f"TikTok status {status}, no Shopify order")
            )
    if settled:
        for sku in skus:
            on_tiktok = tiktok.inventory(shop_id, sku)
            on_shopify = shopify.inventory(shop_name, sku)["available"]
            if on_tiktok != on_shopify:
                breaches.append(
                    Breach(
                        "stock returned on both platforms",
                        "-",
                        f"{sku}: TikTok {on_tiktok}, Shopify available {on_shopify}",
                    )
                )
    return breaches


def _time(value: Any) -> datetime | None:
    if value in (None, 0, ""):
        return None
    return datetime.fromtimestamp(int(value), UTC)
