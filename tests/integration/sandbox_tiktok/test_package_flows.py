"""Split, combined and shipped packages, their webhooks and their endpoints (wave2 §5, §4.3)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from shopbridge.clock import ManualClock
from shopbridge_sandbox.serving import BackgroundServer
from shopbridge_sandbox.tiktok import NotFound, SandboxError, ShopCredentials, TikTokSandbox

from .tiktok_http import SignedClient, WebhookReceiver, loopback_client

UPS = "7117858858072016686"
UPS_TRACKING = "1Z999AA10123456784"
SHIPPED = {"tracking_number": UPS_TRACKING, "shipping_provider_id": UPS}


def ready_order(
    sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock, **items: int
) -> str:
    order_id = sandbox.create_order(shop.shop_id, items or {"TEE-RED-L": 2}, paid=True)
    clock.advance(3600)
    sandbox.apply_timers()
    return order_id


def line_ids(sandbox: TikTokSandbox, order_id: str) -> list[str]:
    return [li["id"] for li in sandbox.order(order_id)["line_items"]]


def mark_shipped(order_id: str) -> str:
    return f"/fulfillment/202309/orders/{order_id}/packages"


def package_path(package_id: str, tail: str = "") -> str:
    return f"/fulfillment/202309/packages/{package_id}{tail}"


def package_updates(sandbox: TikTokSandbox) -> list[dict[str, Any]]:
    return [n["data"] for n in sandbox.notifications if n["type"] == 4]


def two_combined(
    sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> tuple[str, str, str]:
    first = ready_order(sandbox, shop, clock, **{"TEE-RED-L": 2})
    second = ready_order(sandbox, shop, clock, **{"TEE-BLU-M": 1})
    return first, second, sandbox.combine_packages(shop.shop_id, [first, second])


@pytest.fixture
def control(server: BackgroundServer) -> Iterator[httpx.Client]:
    with loopback_client(f"{server.base_url}/_sandbox") as client:
        yield client


# -- TikTok re-shapes packages before shipping ----------------------------------------------


async def test_combine_packs_both_orders_and_pushes_package_update(
    sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock, receiver: WebhookReceiver
) -> None:
    """One TO_FULFILL package holds every unit of both orders; PACKAGE_UPDATE COMBINE is sent."""
    first = ready_order(sandbox, shop, clock, **{"TEE-RED-L": 2})
    second = ready_order(sandbox, shop, clock, **{"TEE-BLU-M": 1})
    sandbox.set_webhook_url(shop.shop_id, receiver.url)
    clock.advance(60)
    package = sandbox.package(sandbox.combine_packages(shop.shop_id, [first, second]))
    assert package["split_and_combine_tag"] == "COMBINE"
    assert package["package_status"] == "TO_FULFILL"
    assert [o["id"] for o in package["orders"]] == [first, second]
    assert package["order_line_item_ids"] == line_ids(sandbox, first) + line_ids(sandbox, second)
    now = int(clock.now().timestamp())
    for order_id in (first, second):
        order = sandbox.order(order_id)
        assert order["split_or_combine_tag"] == "COMBINED"
        assert order["packages"] == [{"id": package["package_id"]}]
        assert order["update_time"] == now
        assert {(li["package_id"], li["package_status"]) for li in order["line_items"]} == {
            (package["package_id"], "TO_FULFILL")
        }
        assert "tracking_number" not in order["line_items"][0]
    await sandbox.tick()
    [hook] = receiver.of_type(4)
    assert hook["data"] == {
        "sc_type": "COMBINE",
        "role_type": "ROLE_SYSTEM",
        "package_list": [{"package_id": package["package_id"], "order_id_list": [first, second]}],
        "update_time": now,
    }


def test_uncombine_dissolves_the_package(
    control: httpx.Client, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """Uncombined, the units have no package and no tag; CANCEL_COMBINE names the old one."""
    first = ready_order(sandbox, shop, clock, **{"TEE-RED-L": 2})
    second = ready_order(sandbox, shop, clock, **{"TEE-BLU-M": 1})
    combine = f"/shops/{shop.shop_id}/packages/combine"
    combined = control.post(combine, json={"order_ids": [first, second]})
    assert combined.status_code == 200, combined.text
    package_id = combined.json()["package_id"]
    assert control.get(f"/packages/{package_id}").json() == combined.json()
    response = control.post(f"/packages/{package_id}/uncombine")
    assert response.json() == {"package_id": package_id, "order_ids": [first, second]}
    for order_id in (first, second):
        order = sandbox.order(order_id)
        assert "split_or_combine_tag" not in order
        assert order["packages"] == []
        assert all("package_id" not in li for li in order["line_items"])
    assert package_updates(sandbox)[-1]["sc_type"] == "CANCEL_COMBINE"
    assert package_updates(sandbox)[-1]["package_list"] == [
        {"package_id": package_id, "order_id_list": [first, second]}
    ]
    assert control.get(f"/packages/{package_id}").status_code == 404


def test_split_makes_a_package_per_group(
    control: httpx.Client, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """Each group becomes a TO_FULFILL SPLIT package; the order is tagged SPLIT."""
    order_id = ready_order(sandbox, shop, clock, **{"TEE-RED-L": 2, "TEE-BLU-M": 1})
    a, b, c = line_ids(sandbox, order_id)
    response = control.post(f"/orders/{order_id}/split", json={"groups": [[a, b], [c]]})
    assert response.status_code == 200, response.text
    packages = response.json()["packages"]
    assert [p["order_line_item_ids"] for p in packages] == [[a, b], [c]]
    assert {p["split_and_combine_tag"] for p in packages} == {"SPLIT"}
    order = sandbox.order(order_id)
    assert order["split_or_combine_tag"] == "SPLIT"
    assert order["packages"] == [{"id": p["package_id"]} for p in packages]
    update = package_updates(sandbox)[-1]
    assert update["sc_type"] == "SPLIT"
    assert update["package_list"] == [
        {"package_id": p["package_id"], "order_id_list": [order_id]} for p in packages
    ]


def test_package_ids_change_on_every_reshape(
    sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """Split again, uncombine and combine again: every package is new, none reused."""
    split = ready_order(sandbox, shop, clock, **{"TEE-RED-L": 2})
    first = ready_order(sandbox, shop, clock, **{"TEE-BLU-M": 1})
    second = ready_order(sandbox, shop, clock, **{"TEE-BLU-M": 1})
    a, b = line_ids(sandbox, split)
    seen = set(sandbox.split_order(split, [[a], [b]]))
    again = set(sandbox.split_order(split, [[b], [a]]))
    assert not seen & again
    for old in seen:
        with pytest.raises(NotFound):
            sandbox.package(old)
    with pytest.raises(SandboxError, match="already packed"):
        sandbox.combine_packages(shop.shop_id, [split, first])
    combined = sandbox.combine_packages(shop.shop_id, [first, second])
    assert sandbox.uncombine_package(combined) == [first, second]
    recombined = sandbox.combine_packages(shop.shop_id, [first, second])
    assert recombined not in seen | again | {combined}


def test_reshapes_are_refused_outside_awaiting_shipment(
    control: httpx.Client, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """Combining needs two AWAITING_SHIPMENT orders; a split must cover every unit once."""
    ready = ready_order(sandbox, shop, clock)
    on_hold = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1}, paid=True)
    combine = f"/shops/{shop.shop_id}/packages/combine"
    assert control.post(combine, json={"order_ids": [ready]}).status_code == 409
    refused = control.post(combine, json={"order_ids": [ready, on_hold]})
    assert refused.status_code == 409
    assert "ON_HOLD" in refused.json()["error"]
    a, b = line_ids(sandbox, ready)
    split = f"/orders/{ready}/split"
    assert control.post(split, json={"groups": [[a]]}).status_code == 409
    assert control.post(split, json={"groups": [[a], [a, b]]}).status_code == 409
    assert control.post(split, json={"groups": "nope"}).status_code == 400
    assert control.post("/packages/123/uncombine").status_code == 404


# -- Mark Package As Shipped with packages --------------------------------------------------


def test_several_waiting_packages_need_line_items(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """Without order_line_item_ids a split order answers 21011048 and nothing ships."""
    order_id = ready_order(sandbox, shop, clock)
    a, b = line_ids(sandbox, order_id)
    sandbox.split_order(order_id, [[a], [b]])
    status, code, _ = api.error("POST", mark_shipped(order_id), body=SHIPPED)
    assert (status, code) == (200, 21011048)
    assert sandbox.order(order_id)["status"] == "AWAITING_SHIPMENT"


def test_shipping_one_split_package_keeps_its_id(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """Line items equal to one package ship that package; the last one then ships alone."""
    order_id = ready_order(sandbox, shop, clock)
    a, b = line_ids(sandbox, order_id)
    first, second = sandbox.split_order(order_id, [[a], [b]])
    data = api.ok("POST", mark_shipped(order_id), body={**SHIPPED, "order_line_item_ids": [a]})
    assert data == {"order_id": order_id, "order_line_item_ids": [a], "package_id": first}
    assert sandbox.order(order_id)["status"] == "PARTIALLY_SHIPPING"
    assert sandbox.package(first)["package_status"] == "PROCESSING"
    body = {**SHIPPED, "tracking_number": "1Z999AA10123456785"}
    assert api.ok("POST", mark_shipped(order_id), body=body)["package_id"] == second
    order = sandbox.order(order_id)
    assert order["status"] == "AWAITING_COLLECTION"
    assert order["packages"] == [{"id": first}, {"id": second}]


def test_shipping_a_combined_order_ships_the_whole_parcel(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """No line items on a combined order: every order in the package moves and lists it."""
    first, second, package_id = two_combined(sandbox, shop, clock)
    data = api.ok("POST", mark_shipped(first), body=SHIPPED)
    assert data == {
        "order_id": first,
        "order_line_item_ids": line_ids(sandbox, first),
        "package_id": package_id,
    }
    changes = [n["data"] for n in sandbox.notifications if n["type"] == 1]
    for order_id in (first, second):
        order = sandbox.order(order_id)
        assert order["status"] == "AWAITING_COLLECTION"
        assert order["packages"] == [{"id": package_id}]
        assert order["tracking_number"] == UPS_TRACKING
        assert {"order_id": order_id, "order_status": "AWAITING_COLLECTION"}.items() <= next(
            c for c in reversed(changes) if c["order_id"] == order_id
        ).items()


def test_part_of_a_combined_order_cannot_ship(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """Line items that are only part of a combined package answer 21011046."""
    first, _, _ = two_combined(sandbox, shop, clock)
    body = {**SHIPPED, "order_line_item_ids": line_ids(sandbox, first)[:1]}
    assert api.error("POST", mark_shipped(first), body=body)[:2] == (200, 21011046)
    assert sandbox.order(first)["status"] == "AWAITING_SHIPMENT"


def test_a_cancelled_unit_cannot_ship(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """Listing a unit TikTok cancelled answers 21011005 and ships nothing."""
    order_id = ready_order(sandbox, shop, clock)
    gone, kept = line_ids(sandbox, order_id)
    sandbox.cancel_items(order_id, [gone])
    body = {**SHIPPED, "order_line_item_ids": [gone, kept]}
    assert api.error("POST", mark_shipped(order_id), body=body)[:2] == (200, 21011005)
    assert sandbox.order(order_id)["status"] == "AWAITING_SHIPMENT"
    data = api.ok("POST", mark_shipped(order_id), body=SHIPPED)
    assert data["order_line_item_ids"] == [kept]
    assert sandbox.order(order_id)["status"] == "AWAITING_COLLECTION"


# -- Ship Package, Get Package Detail, Update Package Shipping Info ------------------------


def test_ship_package_moves_every_order_of_a_combined_package(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """Ship Package answers {} and ships both orders; the detail shows the carrier."""
    first, second, package_id = two_combined(sandbox, shop, clock)
    body = {"handover_method": "DROP_OFF", "self_shipment": SHIPPED}
    assert api.ok("POST", package_path(package_id, "/ship"), body=body) == {}
    assert {sandbox.order(o)["status"] for o in (first, second)} == {"AWAITING_COLLECTION"}
    detail = api.ok("GET", package_path(package_id))
    assert detail["package_id"] == package_id
    assert detail["package_status"] == "PROCESSING"
    assert [o["id"] for o in detail["orders"]] == [first, second]
    assert detail["order_line_item_ids"] == line_ids(sandbox, first) + line_ids(sandbox, second)
    assert (detail["tracking_number"], detail["shipping_provider_id"]) == (UPS_TRACKING, UPS)
    assert detail["shipping_provider_name"] == "UPS"
    assert detail["split_and_combine_tag"] == "COMBINE"
    line = sandbox.order(second)["line_items"][0]
    assert (line["display_status"], line["package_status"]) == ("AWAITING_COLLECTION", "PROCESSING")
    assert line["tracking_number"] == UPS_TRACKING
    assert api.error("POST", package_path(package_id, "/ship"), body=body)[:2] == (200, 21011006)


def test_ship_package_refusals(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """Unknown or foreign packages answer 21011028; a tracking number unlike the carrier's,
    21004015; a body without self_shipment, 36009004."""
    _, _, package_id = two_combined(sandbox, shop, clock)
    other = sandbox.add_shop(name="Other", region="US")
    ship = {"handover_method": "DROP_OFF", "self_shipment": SHIPPED}
    assert api.error("POST", package_path("1153000000000000000", "/ship"), body=ship)[1] == 21011028
    assert api.error("POST", package_path(package_id, "/ship"), body=ship, shop=other)[1] == (
        21011028
    )
    assert api.error("GET", package_path(package_id), shop=other)[1] == 21011028
    mismatch = {"self_shipment": {**SHIPPED, "tracking_number": "9400111899223856000000"}}
    assert api.error("POST", package_path(package_id, "/ship"), body=mismatch)[1] == 21004015
    assert api.error("POST", package_path(package_id, "/ship"), body={})[:2] == (400, 36009004)
    assert sandbox.package(package_id)["package_status"] == "TO_FULFILL"


def test_carrier_steps_move_a_combined_parcel_and_its_units(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """Collecting one order of a combined parcel moves both; units follow their package."""
    first, second, package_id = two_combined(sandbox, shop, clock)
    api.ok("POST", mark_shipped(first), body=SHIPPED)
    sandbox.carrier_collect(first)
    assert {sandbox.order(o)["status"] for o in (first, second)} == {"IN_TRANSIT"}
    assert sandbox.package(package_id)["package_status"] == "FULFILLING"
    assert sandbox.order(second)["line_items"][0]["display_status"] == "IN_TRANSIT"
    sandbox.deliver(second)
    assert {sandbox.order(o)["status"] for o in (first, second)} == {"DELIVERED"}
    assert sandbox.package(package_id)["package_status"] == "COMPLETED"
    assert sandbox.order(first)["line_items"][0]["display_status"] == "DELIVERED"


def fix_package(api: SignedClient, package_id: str, tracking: str) -> int:
    body = {"tracking_number": tracking, "shipping_provider_id": UPS}
    response = api.request("POST", package_path(package_id, "/shipping_info/update"), body=body)
    return response.json()["code"]  # type: ignore[no-any-return]


def shipped_package(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> tuple[str, str]:
    order_id = ready_order(sandbox, shop, clock)
    a, _ = line_ids(sandbox, order_id)
    body = {**SHIPPED, "order_line_item_ids": [a]}
    return order_id, api.ok("POST", mark_shipped(order_id), body=body)["package_id"]


def test_package_tracking_changes_once(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """A split package's tracking is fixed once; a second fix answers 21011051."""
    order_id, package_id = shipped_package(api, sandbox, shop, clock)
    clock.advance(timedelta(hours=71))
    assert fix_package(api, package_id, "1Z999AA10123456799") == 0
    assert sandbox.package(package_id)["tracking_number"] == "1Z999AA10123456799"
    assert sandbox.order(order_id)["line_items"][0]["tracking_number"] == "1Z999AA10123456799"
    assert fix_package(api, package_id, "1Z999AA10123456700") == 21011051


def test_package_tracking_fix_after_72_hours_is_refused(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """72 h after shipping: 21011049, tracking unchanged."""
    _, package_id = shipped_package(api, sandbox, shop, clock)
    clock.advance(timedelta(hours=72, seconds=1))
    assert fix_package(api, package_id, "1Z999AA10123456799") == 21011049
    assert sandbox.package(package_id)["tracking_number"] == UPS_TRACKING


def test_package_tracking_fix_needs_a_shipped_live_package(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """A package not shipped yet answers 21011043; one of a cancelled order, 21011042."""
    order_id = ready_order(sandbox, shop, clock)
    a, b = line_ids(sandbox, order_id)
    waiting, _ = sandbox.split_order(order_id, [[a], [b]])
    assert fix_package(api, waiting, "1Z999AA10123456799") == 21011043
    whole = ready_order(sandbox, shop, clock)
    package_id = api.ok("POST", mark_shipped(whole), body=SHIPPED)["package_id"]
    cancel = {"order_id": whole, "cancel_reason": "seller_cancel_reason_out_of_stock"}
    api.ok("POST", "/return_refund/202309/cancellations", body=cancel)
    assert fix_package(api, package_id, "1Z999AA10123456799") == 21011042


def test_order_level_fix_refuses_split_orders(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """The order-level update stays for whole orders: a split order answers 21011052."""
    order_id, _ = shipped_package(api, sandbox, shop, clock)
    path = f"/fulfillment/202309/orders/{order_id}/shipping_info/update"
    body = {"tracking_number": "1Z999AA10123456799", "shipping_provider_id": UPS}
    assert api.error("POST", path, body=body)[1] == 21011052


# -- the new routes are signed and rate-limited like every other ----------------------------


@pytest.mark.parametrize(
    ("method", "tail"),
    [("GET", ""), ("POST", "/ship"), ("POST", "/shipping_info/update")],
)
def test_package_routes_are_signed(
    method: str,
    tail: str,
    api: SignedClient,
    sandbox: TikTokSandbox,
    shop: ShopCredentials,
    clock: ManualClock,
) -> None:
    """A wrong signature answers 106001, a missing token 401, before any package is read."""
    _, _, package_id = two_combined(sandbox, shop, clock)
    path = package_path(package_id, tail)
    body = None if method == "GET" else {"self_shipment": SHIPPED}
    assert api.error(method, path, body=body, secret="wrong")[:2] == (401, 106001)
    assert api.error(method, path, body=body, token=None)[0] == 401
    assert sandbox.package(package_id)["package_status"] == "TO_FULFILL"


def test_package_detail_is_rate_limited_per_api(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials, clock: ManualClock
) -> None:
    """Past the limit Get Package Detail answers 429 / 36009002, for any package id."""
    _, _, package_id = two_combined(sandbox, shop, clock)
    sandbox.rate_limiter.limit = 2
    api.ok("GET", package_path(package_id))
    api.error("GET", package_path("1153000000000000000"))
    assert api.error("GET", package_path(package_id))[:2] == (429, 36009002)
    returns = api.ok("POST", "/return_refund/202309/returns/search", body={})
    assert returns["total_count"] == 0
