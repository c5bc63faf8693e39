"""The order page item by item: each TikTok unit's state on both platforms, cancelling items on
TikTok, shipments per box, and returns with their Restock button, all through the real bridge."""

from __future__ import annotations

import html as html_lib
import re

import httpx

from shopbridge.domain import events as ev
from shopbridge.domain.codec import decode_mirror
from shopbridge.domain.mirror import OrderMirror
from shopbridge.web.accounts import User
from support.orders import unit_id

from .conftest import Shop, login, post

ORDER_ID = "576486316948490001"
SKUS = {"TEE-RED-L": 2, "MUG": 1}
RED = (unit_id(ORDER_ID, 0, 0), unit_id(ORDER_ID, 0, 1))
MUG = unit_id(ORDER_ID, 1, 0)
EVERY_UNIT = (*RED, MUG)


def order_url(shop: Shop) -> str:
    return f"/connections/{shop.connection_id}/orders/{ORDER_ID}"


def page(client: httpx.Client, shop: Shop) -> str:
    return html_lib.unescape(client.get(order_url(shop)).text)


def flash(html: str) -> str:
    found = re.search(r'data-testid="flash">([^<]*)<', html)
    assert found, "the page shows the outcome"
    return found.group(1)


def item(html: str, unit: str) -> tuple[str, str]:
    """The TikTok and Shopify words of one unit's row."""
    start = html.index(f'data-unit-id="{unit}"')
    row = html[start : html.index("</tr>", start)]
    tiktok = re.search(r'data-testid="item-tiktok">([^<]*)<', row)
    shopify = re.search(r'data-testid="item-shopify">([^<]*)<', row)
    assert tiktok and shopify
    return tiktok.group(1), shopify.group(1)


def section(html: str, testid: str) -> str:
    start = html.index(f'data-testid="{testid}"')
    return html[start : html.index("</section>", start)]


def mirror(shop: Shop) -> OrderMirror:
    state = shop.mirror(ORDER_ID).state
    assert state is not None
    return decode_mirror(dict(state))


def shipped(shop: Shop, number: str = "1Z999AA10123456784") -> str:
    """Released, then fulfilled in Shopify as one box naming its lines, sent to TikTok, and
    TikTok's webhook about the shipped package heard."""
    shop.paid(ORDER_ID, skus=SKUS)
    shop.release_all()
    row = shop.mirror(ORDER_ID)
    assert row.shopify_order_id is not None
    box = shop.world.shopify.fulfil(row.shopify_order_id, "UPS", number)
    shop.world.apply(
        ORDER_ID, ev.ShopifyFulfilmentObserved(box.fulfillment_id, "UPS", number, box.lines)
    )
    shop.settle()
    shop.world.apply(ORDER_ID, ev.TikTokOrderObserved(shop.world.tiktok.orders[ORDER_ID]))
    shop.settle()
    return box.fulfillment_id


def returned(shop: Shop, return_type: str, status: str, return_id: str = "R1") -> None:
    """TikTok reports a return of one tee of the shipped order."""
    event = ev.ReturnObserved(return_id, status, return_type, (RED[0],), shop.clock.now())
    shop.world.tiktok.returns[ORDER_ID].append(event)
    shop.world.apply(ORDER_ID, event)
    shop.settle()


# --- items ---------------------------------------------------------------------------------


def test_order_page_lists_every_unit_with_its_tiktok_and_shopify_state(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """Each TikTok unit has its own row, grouped by SKU under the line's quantity and amount."""
    shop.paid(ORDER_ID, skus=SKUS)
    name = shop.mirror(ORDER_ID).shopify_order_name
    login(client, merchant.email)
    html = page(client, shop)
    assert re.findall(r'data-testid="item" data-unit-id="(\d+)"', html) == list(EVERY_UNIT)
    assert html.count('data-testid="line"') == 2
    assert "2 × 19.99 USD" in html
    for unit in EVERY_UNIT:
        assert item(html, unit) == ("awaiting shipment", f"in Shopify order {name}")


def test_cancelling_items_posts_the_merchants_pick_and_shopify_follows_tiktok(
    client: httpx.Client, merchant: User, shop: Shop, app_wakes: list[int]
) -> None:
    """The cancel form offers each live unit; ticking the mug cancels it on TikTok, and once
    TikTok has, the mug is taken off the Shopify order with restock."""
    shop.paid(ORDER_ID, skus=SKUS)
    login(client, merchant.email)
    form = section(page(client, shop), "cancel-items")
    assert re.findall(r'name="unit_ids" value="(\d+)"', form) == list(EVERY_UNIT)
    assert "only in the US and the UK" in form
    response = post(client, f"{order_url(shop)}/items/cancel", order_url(shop), unit_ids=MUG)
    assert response.status_code == 303
    assert mirror(shop).cancel_units == (MUG,)
    assert app_wakes, "the worker was woken to cancel at once"
    html = page(client, shop)
    assert flash(html) == "Cancelling on TikTok; Shopify follows what TikTok says."
    assert "Cancelling 1 item(s) on TikTok…" in html
    assert 'name="unit_ids"' not in html, "no second pick while one is on its way"
    shop.settle()
    html = page(client, shop)
    assert item(html, MUG) == ("cancelled by the seller", "removed from Shopify (restocked)")
    assert item(html, RED[0])[0] == "awaiting shipment"
    assert re.findall(r'name="unit_ids" value="(\d+)"', html) == list(RED)


def test_several_items_are_posted_as_one_cancellation(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """Ticked boxes arrive as repeated `unit_ids` values and are cancelled together."""
    shop.paid(ORDER_ID, skus=SKUS)
    login(client, merchant.email)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page(client, shop))
    assert token
    client.post(
        f"{order_url(shop)}/items/cancel",
        data={"csrf_token": token.group(1), "unit_ids": [RED[1], MUG]},
    )
    assert mirror(shop).cancel_units == tuple(sorted((RED[1], MUG)))


def test_single_item_cancel_outside_the_us_and_uk_is_refused_in_plain_words(
    client: httpx.Client, merchant: User, shop: Shop, app_wakes: list[int]
) -> None:
    """In Germany TikTok cancels no single items: a partial pick is refused, saying why."""
    shop.world.store.update_connection(shop.connection_id, tiktok_region="DE")
    shop.paid(ORDER_ID, skus=SKUS)
    login(client, merchant.email)
    assert "This shop is in DE: select every item" in section(page(client, shop), "cancel-items")
    post(client, f"{order_url(shop)}/items/cancel", order_url(shop), unit_ids=MUG)
    html = page(client, shop)
    assert "cancel single items only in the US and the UK, not in DE" in flash(html)
    assert 'class="flash flash-error"' in html
    assert mirror(shop).cancel_units == ()
    assert app_wakes == []


def test_the_whole_order_can_be_cancelled_outside_the_us_and_uk(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """Every item ticked is a cancellation of the order, which TikTok allows in every market."""
    shop.world.store.update_connection(shop.connection_id, tiktok_region="DE")
    shop.paid(ORDER_ID, skus=SKUS)
    login(client, merchant.email)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page(client, shop))
    assert token
    client.post(
        f"{order_url(shop)}/items/cancel",
        data={"csrf_token": token.group(1), "unit_ids": list(EVERY_UNIT)},
    )
    assert mirror(shop).cancel_units == tuple(sorted(EVERY_UNIT))
    shop.settle()
    html = page(client, shop)
    assert re.search(r'data-testid="order-status">Canceled<', html)
    assert 'data-testid="cancel-items"' not in html


def test_shipped_items_can_no_longer_be_cancelled(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """Once every unit is in a box sent to TikTok, there is no cancel form."""
    shipped(shop)
    login(client, merchant.email)
    html = page(client, shop)
    assert 'data-testid="cancel-items"' not in html
    tiktok, shopify = item(html, MUG)
    assert tiktok.startswith("shipped in package ")
    assert shopify.endswith(".1")
    assert shopify.startswith("in Shopify fulfilment #")


# --- shipments -----------------------------------------------------------------------------


def test_shipment_shows_its_units_and_tiktok_package(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """A fulfilment lists its units by SKU and, once sent, the TikTok package it became."""
    shipped(shop)
    package = mirror(shop).fulfilments[0].package_id
    assert package
    name = shop.mirror(ORDER_ID).shopify_order_name
    login(client, merchant.email)
    tracking = section(page(client, shop), "tracking")
    assert "sent to TikTok as UPS" in tracking
    assert f"Fulfilment {name}.1: 1 × MUG, 2 × TEE-RED-L · TikTok package {package}" in tracking


def test_changed_tracking_is_pending_then_corrected_on_tiktok(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """A tracking number changed in Shopify after TikTok was told shows as a pending
    correction, then as corrected once TikTok has the new number."""
    fulfillment_id = shipped(shop, "1Z999AA10000000001")
    row = shop.mirror(ORDER_ID)
    assert row.shopify_order_id is not None
    shop.world.shopify.retrack(row.shopify_order_id, fulfillment_id, "1Z999AA10000000002")
    shop.world.apply(
        ORDER_ID, ev.ShopifyFulfilmentObserved(fulfillment_id, "UPS", "1Z999AA10000000002")
    )
    login(client, merchant.email)
    tracking = section(page(client, shop), "tracking")
    assert "correction pending: TikTok still has 1Z999AA10000000001" in tracking
    shop.settle()
    tracking = section(page(client, shop), "tracking")
    assert "tracking corrected on TikTok" in tracking
    assert "correction pending" not in tracking


# --- returns -------------------------------------------------------------------------------


def test_completed_return_of_goods_offers_restock_which_the_merchant_presses(
    client: httpx.Client, merchant: User, shop: Shop, app_wakes: list[int]
) -> None:
    """A completed return and refund, recorded in Shopify, waits for Restock; pressing it asks
    for the restock, and once done the return says so and offers no button."""
    shipped(shop)
    returned(shop, "RETURN_AND_REFUND", "RETURN_OR_REFUND_REQUEST_COMPLETE")
    login(client, merchant.email)
    returns = section(page(client, shop), "returns")
    assert "Return and refund</strong> R1" in returns
    assert "complete: TikTok refunded the buyer" in returns
    assert "1 × TEE-RED-L" in returns
    assert "recorded in Shopify as a refund" in returns
    assert 'data-testid="restock"' in returns
    response = post(client, f"{order_url(shop)}/returns/R1/restock", order_url(shop))
    assert response.status_code == 303
    assert mirror(shop).returns[0].restock_wanted
    assert app_wakes
    html = page(client, shop)
    assert flash(html) == "Restocking: the returned items go back on sale in Shopify."
    assert 'data-testid="restock"' not in html
    assert "restocking in Shopify…" in section(html, "returns")
    shop.settle()
    assert "restocked (you pressed Restock)" in section(page(client, shop), "returns")


def test_return_still_under_way_has_no_restock_button(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """While the buyer is still sending the goods back there is nothing to restock yet."""
    shipped(shop)
    returned(shop, "RETURN_AND_REFUND", "AWAITING_BUYER_SHIP")
    login(client, merchant.email)
    returns = section(page(client, shop), "returns")
    assert 'data-testid="restock"' not in returns
    assert "restock once TikTok has refunded the buyer" in returns


def test_refund_only_has_no_restock_and_a_forged_restock_is_refused(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """A refund without a return brings nothing back: no button, and a posted Restock is
    refused in plain words."""
    shipped(shop)
    returned(shop, "REFUND", "RETURN_OR_REFUND_REQUEST_COMPLETE")
    login(client, merchant.email)
    returns = section(page(client, shop), "returns")
    assert "Refund only" in returns
    assert "refund only: nothing came back" in returns
    assert 'data-testid="restock"' not in returns
    post(client, f"{order_url(shop)}/returns/R1/restock", order_url(shop))
    assert "no goods came back" in flash(page(client, shop))
    assert not mirror(shop).returns[0].restock_wanted


def test_returns_restock_themselves_when_the_connection_says_so(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """With automatic restocking on, a completed return is restocked with no button."""
    shop.world.store.update_connection(shop.connection_id, restock_returns=True)
    shipped(shop)
    returned(shop, "RETURN_AND_REFUND", "RETURN_OR_REFUND_REQUEST_COMPLETE")
    login(client, merchant.email)
    html = page(client, shop)
    assert "restocked automatically" in section(html, "returns")
    assert 'data-testid="restock"' not in html
    assert item(html, RED[0])[1].endswith("(restocked)")
