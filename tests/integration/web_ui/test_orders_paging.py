"""The orders list's pager: Older and Newer links by cursor, carrying the state and search, and a
later page that polls its own rows (pages of two orders, to keep the orders few)."""

from __future__ import annotations

import re

import httpx
import pytest

from shopbridge.web import orders
from shopbridge.web.accounts import User

from .conftest import Shop, login

IDS = [f"57648631694849{n:04d}" for n in range(1, 6)]
ROW = re.compile(r'data-testid="order-row" data-order-id="(\d+)"')


@pytest.fixture(autouse=True)
def _pages_of_two(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(orders, "PAGE_SIZE", 2)


def listed(html: str) -> list[str]:
    return ROW.findall(html)


def link(html: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}"', html)
    return None if found is None else found.group(1).replace("&amp;", "&")


def orders_url(shop: Shop, query: str = "") -> str:
    return f"/connections/{shop.connection_id}/orders" + (f"?{query}" if query else "")


def walk(client: httpx.Client, start: str, rel: str) -> tuple[list[list[str]], list[str]]:
    """Follow the `rel` links from `start` to the end: each page's orders and each URL."""
    pages, urls = [], []
    url: str | None = start
    while url is not None:
        html = client.get(url).text
        pages.append(listed(html))
        urls.append(url)
        url = link(html, rel)
    return pages, urls


@pytest.fixture
def five_orders(shop: Shop) -> None:
    for order_id in IDS:
        shop.paid(order_id)
    shop.cancel(IDS[2])


def test_older_links_walk_every_order_once_and_newer_links_walk_back(
    client: httpx.Client, merchant: User, shop: Shop, five_orders: None
) -> None:
    """Older from the newest page lists each order once, newest first; Newer from the last page
    shows the same pages in reverse."""
    login(client, merchant.email)
    older, urls = walk(client, orders_url(shop), "next")
    assert older == [IDS[4:2:-1], IDS[2:0:-1], IDS[:1]]
    assert all("page=" not in url for url in urls)
    newer, _ = walk(client, urls[-1], "prev")
    assert newer == older[::-1]


def test_pages_keep_the_state_and_the_search(
    client: httpx.Client, merchant: User, shop: Shop, five_orders: None
) -> None:
    """The state filter and the search stay on every Older and Newer link."""
    login(client, merchant.email)
    prefix = IDS[0][:-2]
    older, urls = walk(client, orders_url(shop, f"state=held&q={prefix}"), "next")
    assert older == [[IDS[4], IDS[3]], [IDS[1], IDS[0]]]
    assert all("state=held" in url and f"q={prefix}" in url for url in urls)
    newer, urls = walk(client, urls[-1], "prev")
    assert newer == older[::-1]
    assert all("state=held" in url and f"q={prefix}" in url for url in urls)


def test_a_later_page_polls_its_own_orders(
    client: httpx.Client, merchant: User, shop: Shop, five_orders: None
) -> None:
    """The first page polls the newest orders; an older page polls the same page, so an order
    paid meanwhile does not shift it under the merchant's eyes."""
    login(client, merchant.email)
    first = client.get(orders_url(shop)).text
    poll = re.search(r'hx-get="([^"]+)" hx-trigger=', first)
    assert poll and poll.group(1) == f"/connections/{shop.connection_id}/orders/fragment"
    older = link(first, "next")
    assert older is not None
    second = client.get(older).text
    poll = re.search(r'hx-get="([^"]+)" hx-trigger=', second)
    assert poll
    shop.paid("576486316948499999")
    fragment = client.get(poll.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"})
    assert listed(fragment.text) == listed(second)


def test_past_the_oldest_order_the_page_says_so_and_links_to_the_newest(
    client: httpx.Client, merchant: User, shop: Shop, five_orders: None
) -> None:
    """A page after the oldest order (an old link) says there are no more, with the way back."""
    login(client, merchant.email)
    html = client.get(orders_url(shop, "after=20000101T000000.000000Z-1")).text
    assert listed(html) == []
    assert "No more orders." in html
    assert f'href="{orders_url(shop)}"' in html
    assert link(html, "next") is None


def test_a_malformed_cursor_shows_the_newest_orders(
    client: httpx.Client, merchant: User, shop: Shop, five_orders: None
) -> None:
    """An edited or truncated cursor is ignored: the newest page is shown, not an error."""
    login(client, merchant.email)
    newest = listed(client.get(orders_url(shop)).text)
    for junk in ("after=2026", "before=x-1", "after=99999999T999999.999999Z-1"):
        response = client.get(orders_url(shop, junk))
        assert response.status_code == 200
        assert listed(response.text) == newest
