"""Package endpoints (§4.3, wave2 §5.5-5.6): Ship Package, Update Package Shipping Info and
Get Package Detail."""

from __future__ import annotations

from typing import Any

from shopbridge_sandbox.tiktok import errors as e
from shopbridge_sandbox.tiktok.gateway import ApiRoute, Call
from shopbridge_sandbox.tiktok.views import package_view

HANDOVER_METHODS = ("PICKUP", "DROP_OFF")


def ship_package(call: Call) -> dict[str, Any]:
    """Ship Package with the seller's own carrier (`self_shipment`); answers `data: {}`."""
    handover = call.body.get("handover_method", "DROP_OFF")
    if handover not in HANDOVER_METHODS:
        raise e.bad_parameter(f"handover_method must be PICKUP or DROP_OFF, got {handover!r}")
    shipment = call.body.get("self_shipment")
    if not isinstance(shipment, dict):
        # The sandbox's shops ship with their own carriers only (shipping_type SELLER).
        raise e.bad_parameter("self_shipment {tracking_number, shipping_provider_id} is required")
    call.seller.ship_package(
        call.shop,
        call.params["package_id"],
        str(shipment.get("tracking_number", "")),
        str(shipment.get("shipping_provider_id", "")),
    )
    return {}


def update_package_shipping_info(call: Call) -> dict[str, Any]:
    call.seller.update_package_tracking(
        call.shop,
        call.params["package_id"],
        str(call.body.get("tracking_number", "")),
        str(call.body.get("shipping_provider_id", "")),
    )
    return {}


def package_detail(call: Call) -> dict[str, Any]:
    package = call.seller.owned_package(call.shop, call.params["package_id"])
    orders = [call.market.order(order_id) for order_id in package.order_ids]
    return package_view(package, orders, call.shop)


ROUTES = [
    ApiRoute("POST", "/fulfillment/202309/packages/{package_id}/ship", ship_package),
    ApiRoute(
        "POST",
        "/fulfillment/202309/packages/{package_id}/shipping_info/update",
        update_package_shipping_info,
    ),
    ApiRoute("GET", "/fulfillment/202309/packages/{package_id}", package_detail),
]
