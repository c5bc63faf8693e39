"""External order references: the Shopify id stored on the TikTok order (§4.1)."""

from __future__ import annotations

from shopbridge_sandbox.tiktok import ShopCredentials, TikTokSandbox

from .tiktok_http import SignedClient

BASE = "/order/202406/orders"


def test_a_stored_shopify_id_is_read_back_and_searchable(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials
) -> None:
    """After adding a SHOPIFY reference, the order lists it and a search by it finds the order."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1})
    external = {"id": "gid://shopify/Order/1001", "platform": "SHOPIFY"}
    body = {"orders": [{"id": order_id, "external_order": external}]}
    assert api.ok("POST", f"{BASE}/external_orders", body=body) == {"errors": []}
    listed = api.ok("GET", f"{BASE}/{order_id}/external_orders", {"platform": "SHOPIFY"})
    assert listed["external_orders"] == [external]
    query = {"platform": "SHOPIFY", "external_order_id": "gid://shopify/Order/1001"}
    assert api.ok("POST", f"{BASE}/external_order_search", query)["orders"] == [{"id": order_id}]


def test_unknown_platform_is_refused(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials
) -> None:
    """A platform outside TikTok's list answers 36009004."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1})
    body = {"orders": [{"id": order_id, "external_order": {"id": "1", "platform": "SHOPPY"}}]}
    assert api.error("POST", f"{BASE}/external_orders", body=body)[1] == 36009004
