"""The orders list and the order detail, on mirrors made by the real bridge."""

from __future__ import annotations

import re

import httpx

from shopbridge.web.accounts import User
from shopbridge.web.orders import PAGE_SIZE

from .conftest import Shop, login

PAID_ID, UNPAID_ID, CANCELLED_ID = "576486316948490001", "576486316948490002", "576486316948490003"
ROW = re.compile(r'data-testid="order-row" data-order-id="(\d+)"')


def listed(html: str) -> list[str]:
    return ROW.findall(html)


def row_html(html: str, order_id: str) -> str:
    start = html.index(f'data-order-id="{order_id}"')
    return html[start : html.index("</tr>", start)]


def link(html: str, rel: str) -> str:
    """The pager's link of that rel ("next": older orders, "prev": newer), HTML-unescaped."""
    found = re.search(rf'<a href="([^"]+)" rel="{rel}"', html)
    assert found, f"the page has a {rel} link"
    return found.group(1).replace("&amp;", "&")


def orders_url(shop: Shop, query: str = "") -> str:
    return f"/connections/{shop.connection_id}/orders" + (f"?{query}" if query else "")


def order_url(shop: Shop, order_id: str) -> str:
    return f"/connections/{shop.connection_id}/orders/{order_id}"


def test_unpaid_orders_are_not_listed(client: httpx.Client, merchant: User, shop: Shop) -> None:
    """An order TikTok still reports UNPAID is reserved but not listed; a paid one is."""
    shop.unpaid(UNPAID_ID)
    shop.paid(PAID_ID)
    assert shop.mirror(UNPAID_ID).shopify_order_id is not None, "reserved all the same"
    login(client, merchant.email)
    assert listed(client.get(orders_url(shop)).text) == [PAID_ID]
    assert client.get(order_url(shop, UNPAID_ID)).status_code == 404


def test_empty_list_explains_when_orders_appear(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """With no paid order yet, the list says orders appear once paid."""
    shop.unpaid(UNPAID_ID)
    login(client, merchant.email)
    html = client.get(orders_url(shop)).text
    assert listed(html) == []
    assert "No paid orders yet." in html


def test_paid_order_shows_holdback_badge_in_merchant_timezone(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """A paid order in holdback says until when, in the connection's timezone (New York)."""
    shop.paid(PAID_ID)
    ends = shop.mirror(PAID_ID).holdback_ends_at
    assert ends is not None
    assert f"{ends:%H:%M}" == "10:01"  # UTC; New York is UTC-5 in November
    login(client, merchant.email)
    row = row_html(client.get(orders_url(shop)).text, PAID_ID)
    assert 'data-testid="badge"' in row
    assert "In holdback until 05:01" in row


def test_released_order_is_ready_to_fulfil(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """After the holdback, the order is badged Ready to fulfil."""
    shop.paid(PAID_ID)
    shop.release_all()
    login(client, merchant.email)
    assert "Ready to fulfil" in row_html(client.get(orders_url(shop)).text, PAID_ID)


def test_fulfilled_order_shows_tracking(client: httpx.Client, merchant: User, shop: Shop) -> None:
    """A fulfilled order is badged Fulfilled with its carrier and tracking number."""
    shop.paid(PAID_ID)
    shop.release_all()
    shop.fulfil(PAID_ID, "UPS", "1Z999AA10123456784")
    login(client, merchant.email)
    assert "Fulfilled · UPS 1Z999AA10123456784" in row_html(
        client.get(orders_url(shop)).text, PAID_ID
    )
    detail = client.get(order_url(shop, PAID_ID)).text
    assert "UPS 1Z999AA10123456784" in detail
    assert "sent to TikTok as UPS" in detail


def test_cancelled_order_is_struck_through_and_says_canceled(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """A cancelled order is struck through in the list and its detail says Canceled."""
    shop.paid(CANCELLED_ID)
    shop.cancel(CANCELLED_ID)
    assert shop.mirror(CANCELLED_ID).phase == "cancelled"
    login(client, merchant.email)
    row = row_html(client.get(orders_url(shop)).text, CANCELLED_ID)
    assert 'class="cancelled' in row
    assert f"<s>{CANCELLED_ID}</s>" in row
    detail = client.get(order_url(shop, CANCELLED_ID)).text
    assert re.search(r'data-testid="order-status">Canceled<', detail)


def test_unpaid_order_cancelled_by_tiktok_is_listed_as_canceled(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """Row 3a: an order TikTok auto-cancelled unpaid is listed, struck through."""
    shop.unpaid(UNPAID_ID)
    shop.cancel(UNPAID_ID)
    login(client, merchant.email)
    html = client.get(orders_url(shop)).text
    assert listed(html) == [UNPAID_ID]
    assert f"<s>{UNPAID_ID}</s>" in row_html(html, UNPAID_ID)


def test_list_is_newest_first(client: httpx.Client, merchant: User, shop: Shop) -> None:
    """Orders are listed newest first."""
    shop.paid(PAID_ID)
    shop.paid(CANCELLED_ID)
    login(client, merchant.email)
    assert listed(client.get(orders_url(shop)).text) == [CANCELLED_ID, PAID_ID]


def test_list_filters_by_state(client: httpx.Client, merchant: User, shop: Shop) -> None:
    """The state filter shows only orders in that state."""
    shop.paid(PAID_ID)
    shop.paid(CANCELLED_ID)
    shop.cancel(CANCELLED_ID)
    login(client, merchant.email)
    assert listed(client.get(orders_url(shop, "state=cancelled")).text) == [CANCELLED_ID]
    assert listed(client.get(orders_url(shop, "state=held")).text) == [PAID_ID]


def test_list_searches_tiktok_and_shopify_numbers(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """Search finds an order by its TikTok id (or its first digits) or its Shopify order name."""
    shop.paid(PAID_ID)
    shop.paid(CANCELLED_ID)
    login(client, merchant.email)
    assert listed(client.get(orders_url(shop, f"q={PAID_ID}")).text) == [PAID_ID]
    assert listed(client.get(orders_url(shop, f"q={PAID_ID[:-1]}")).text) == [
        CANCELLED_ID,
        PAID_ID,
    ]
    name = shop.mirror(CANCELLED_ID).shopify_order_name
    assert name is not None
    assert listed(client.get(orders_url(shop, f"q={name.lstrip('#')}")).text) == [CANCELLED_ID]
    assert "No orders match." in client.get(orders_url(shop, "q=nothing-like-it")).text


def test_list_is_paginated(client: httpx.Client, merchant: User, shop: Shop) -> None:
    """More orders than a page holds continue on the next page, with no order on both."""
    ids = [f"5764863169484{n:05d}" for n in range(PAGE_SIZE + 2)]
    for order_id in ids:
        shop.paid(order_id)
    login(client, merchant.email)
    first = client.get(orders_url(shop)).text
    second = client.get(link(first, "next")).text
    assert listed(first) == ids[::-1][:PAGE_SIZE]
    assert listed(second) == ids[::-1][PAGE_SIZE:]
    assert 'rel="prev"' not in first
    assert 'rel="next"' not in second
    assert listed(client.get(link(second, "prev")).text) == ids[::-1][:PAGE_SIZE]


def test_list_polls_a_fragment_that_shows_new_orders(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """The open list polls its table fragment, which shows an order paid since the page loaded."""
    login(client, merchant.email)
    page = client.get(orders_url(shop)).text
    found = re.search(r'hx-get="([^"]+)" hx-trigger="every (\d+)s"', page)
    assert found
    assert found.group(1) == f"/connections/{shop.connection_id}/orders/fragment"
    shop.paid(PAID_ID)
    fragment = client.get(found.group(1), headers={"HX-Request": "true"})
    assert listed(fragment.text) == [PAID_ID]
    assert "<html" not in fragment.text


def test_fragment_asks_htmx_to_reload_after_logout(client: httpx.Client, shop: Shop) -> None:
    """A polled fragment without a session answers 401 with HX-Redirect to the login page."""
    response = client.get(
        f"/connections/{shop.connection_id}/orders/fragment", headers={"HX-Request": "true"}
    )
    assert response.status_code == 401
    assert response.headers["hx-redirect"] == "/login"


def test_detail_shows_ids_lines_amounts_and_shopify_link(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """The detail page shows both ids, the Shopify admin link, the lines and the total."""
    shop.paid(PAID_ID, skus={"TEE-RED-L": 2})
    row = shop.mirror(PAID_ID)
    assert row.shopify_order_id is not None
    number = row.shopify_order_id.rsplit("/", 1)[-1]
    login(client, merchant.email)
    html = client.get(order_url(shop, PAID_ID)).text
    assert f'data-testid="tiktok-order-id">{PAID_ID}<' in html
    assert f'href="https://demo.myshopify.com/admin/orders/{number}"' in html
    assert "TEE-RED-L" in html
    assert "19.99 USD" in html
    assert "39.98 USD" in html
    assert re.search(r'data-testid="order-status">Paid, in holdback<', html)


def test_detail_shows_the_timeline_in_merchant_timezone(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """Every timeline entry is shown with its kind and summary, at New York time."""
    shop.paid(PAID_ID)
    entries = shop.world.store.timeline(shop.mirror(PAID_ID).id)
    login(client, merchant.email)
    html = client.get(order_url(shop, PAID_ID)).text
    assert 'data-testid="timeline"' in html
    assert html.count('data-testid="timeline-entry"') == len(entries)
    for entry in entries:
        assert entry.summary.replace("'", "&#39;").replace('"', "&#34;") in html
    first = entries[0].at
    assert f"{first:%H:%M:%S}" == "09:00:00"  # UTC
    assert "2026-11-02 04:00:00" in html


def test_unknown_order_is_not_found(client: httpx.Client, merchant: User, shop: Shop) -> None:
    """An order id that does not exist in the connection is 404."""
    login(client, merchant.email)
    assert client.get(order_url(shop, "999")).status_code == 404


def test_list_says_how_many_orders_need_attention(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """Above the list, a line counts the orders that need attention and links to them."""
    shop.paid(PAID_ID, skus={"GHOST-HAT": 1})
    shop.paid(CANCELLED_ID)
    login(client, merchant.email)
    html = client.get(orders_url(shop)).text
    assert re.search(r"1 order needs your attention\.\s*<a href=\"[^\"]+state=attention\"", html)
    assert listed(client.get(orders_url(shop, "state=attention")).text) == [PAID_ID]


def test_detail_refreshes_status_tracking_and_timeline_but_no_form(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """The open detail page re-reads itself and swaps only its form-free parts."""
    shop.paid(PAID_ID)
    login(client, merchant.email)
    html = client.get(order_url(shop, PAID_ID)).text
    poller = re.search(r'<div class="heading" id="order-head" ([^>]+)>', html)
    assert poller
    assert f'hx-get="{order_url(shop, PAID_ID)}"' in poller.group(1)
    assert 'hx-select="#order-head"' in poller.group(1)
    assert 'hx-select-oob="#order-tracking,#order-timeline"' in poller.group(1)
    for part in ("order-head", "order-tracking", "order-timeline"):
        start = html.index(f'id="{part}"')
        end = html.index("</section>" if part != "order-head" else "</div>\n", start)
        assert "<form" not in html[start:end], part
