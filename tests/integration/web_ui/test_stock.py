"""The Stock pages: counts, the full sync and its progress, Retry, each SKU's history and
overrides, and the merchant's stock settings (rule, warehouses, SKU mapping with CSV)."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import timedelta
from urllib.parse import quote

import httpx
import pytest

from shopbridge.clock import ManualClock
from shopbridge.domain.stock import DEFAULT_RULE, StockRule
from shopbridge.store import Store
from shopbridge.store.stock import Pushed
from shopbridge.web.accounts import User, create_user
from shopbridge.web.stock import MAX_UPLOAD_BYTES, sku_url
from support.world import World

from .conftest import PASSWORD, Shop, csrf_of, login

MAIN = "gid://shopify/Location/1"
BACK = "gid://shopify/Location/2"
PLACES = {
    "locations": [[MAIN, "Main street"], [BACK, "Back room"]],
    "warehouses": [["WH-WEST", "US West", True], ["WH-EAST", "US East", False]],
}
GOOD_RULES = {
    "locations_mode": "all",
    "buffer_units": "2",
    "buffer_percent": "0",
    "low_stock_threshold": "0",
    "max_quantity": "",
    "stock_primary": "shopify",
    "stock_sync_minutes": "60",
}
Form = dict[str, str | list[str]]


def stock_url(shop: Shop) -> str:
    return f"/connections/{shop.connection_id}/stock"


def send(
    client: httpx.Client,
    path: str,
    page: str,
    data: Form,
    files: dict[str, tuple[str, bytes, str]] | None = None,
) -> httpx.Response:
    """POST a form the way the browser does: with the CSRF token of the page it came from."""
    token = csrf_of(client.get(page).text)
    return client.post(
        path, data={"csrf_token": token, **data}, files=files, follow_redirects=False
    )


def text(page: str) -> str:
    """The page's words: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def flashes(client: httpx.Client, page: str) -> list[str]:
    found = re.findall(r'data-testid="flash">(.*?)</p>', client.get(page).text, re.S)
    return [html.unescape(f) for f in found]


def synced(store: Store, clock: ManualClock, cid: int, sku: str, **pushed: object) -> None:
    """A SKU whose last push succeeded with these levels."""
    store.stock.mark(cid, [sku])
    clock.advance(timedelta(seconds=1))
    [row] = store.stock.claim("w", 10, timedelta(minutes=1))
    store.stock.finish(row, row.fence, Pushed("synced", **pushed))  # type: ignore[arg-type]


def failed(store: Store, clock: ManualClock, cid: int, skus: list[str], why: str) -> None:
    """SKUs whose pushes failed for good (shown with a Retry)."""
    store.stock.mark(cid, skus)
    clock.advance(timedelta(seconds=1))
    for row in store.stock.claim("w", 10, timedelta(minutes=1)):
        store.stock.fail(row, row.fence, why)


@pytest.fixture
def places(store: Store, world: World) -> None:
    store.update_connection(world.connection_id, stock_places=PLACES)


@pytest.fixture
def stranger(store: Store, world: World) -> User:
    """Someone with a connection of their own, not the merchant's."""
    other = store.add_connection(name="Other", tiktok_shop_id="1", shopify_domain="o.myshopify.com")
    return create_user(store, "bob@example.com", PASSWORD, [other])


# -- the Stock page ------------------------------------------------------------------------------


def test_stock_page_shows_counts_levels_and_problems(
    client: httpx.Client, merchant: User, shop: Shop, store: Store, places: None
) -> None:
    """The page says how many SKUs follow Shopify, failed, are not linked; each SKU shows
    Shopify's available and TikTok's count per place, and a failed one its reason and Retry."""
    cid = shop.connection_id
    synced(
        store,
        shop.clock,
        cid,
        "TEE-RED-L",
        last_quantity=3,
        shopify_levels={MAIN: 4, BACK: 1},
        tiktok_levels={"WH-WEST": 3},
    )
    failed(store, shop.clock, cid, ["MUG"], "TikTok refused the stock of MUG: product is frozen")
    store.stock.save_found_links(
        cid,
        [
            {
                "seller_sku": "GHOST-HAT",
                "status": "unlinked",
                "last_error": "No Shopify variant has SKU GHOST-HAT: add the SKU to the variant",
            }
        ],
    )
    login(client, merchant.email)
    page = client.get(stock_url(shop)).text
    words = text(page)
    assert "1 SKU follows Shopify · 1 failed · 1 not linked" in words
    row = page.split('data-sku="TEE-RED-L"')[1].split("</tr>")[0]
    assert "5" in text(row) and "Main street: 4" in text(row) and "Back room: 1" in text(row)
    assert "Follows Shopify" in text(row)
    mug = page.split('data-sku="MUG"')[1].split("</tr>")[0]
    assert "product is frozen" in text(mug) and 'data-testid="retry-sku"' in mug
    assert 'data-testid="retry-all"' in page
    report = page.split('data-testid="link-report"')[1].split("</section>")[0]
    assert "GHOST-HAT" in report and "add the SKU to the variant" in report
    assert f'href="{sku_url(cid, "TEE-RED-L")}"' in page


def test_the_sku_list_filters_searches_and_pages(
    client: httpx.Client, merchant: User, shop: Shop, store: Store
) -> None:
    """100 SKUs a page with next/previous; the status filter and search narrow the list."""
    cid = shop.connection_id
    failed(store, shop.clock, cid, ["ZZ-BROKEN"], "why")
    store.stock.mark(cid, [f"SKU-{n:03}" for n in range(105)])
    login(client, merchant.email)
    first = client.get(stock_url(shop)).text
    assert first.count('data-testid="sku-row"') == 100
    assert 'rel="next"' in first and 'rel="prev"' not in first
    second = client.get(stock_url(shop), params={"page": "2"}).text
    assert second.count('data-testid="sku-row"') == 6 and 'rel="prev"' in second
    only_failed = client.get(stock_url(shop), params={"status": "failed"}).text
    assert re.findall(r'data-testid="sku-row" data-sku="([^"]+)"', only_failed) == ["ZZ-BROKEN"]
    searched = client.get(stock_url(shop), params={"q": "sku-10"}).text
    assert re.findall(r'data-testid="sku-row" data-sku="([^"]+)"', searched) == [
        f"SKU-{n}" for n in range(100, 105)
    ]


def test_stock_is_reachable_from_settings_and_the_nav(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """Settings links to the Stock page and its sections, and so does the main navigation."""
    login(client, merchant.email)
    settings = client.get(f"/connections/{shop.connection_id}/settings").text
    assert f'href="{stock_url(shop)}#rules"' in settings
    assert f'href="{stock_url(shop)}#mapping"' in settings
    page = client.get(stock_url(shop)).text
    assert f'<a href="{stock_url(shop)}" aria-current="page">Stock</a>' in page


def test_another_tenants_stock_pages_are_not_found(
    client: httpx.Client, merchant: User, stranger: User, shop: Shop, store: Store
) -> None:
    """A user sees and changes only their own connections' stock: anything else is a 404 and
    nothing changes."""
    cid = shop.connection_id
    store.stock.mark(cid, ["TEE-RED-L"])
    store.stock.save_links(cid, [("TT-1", "SH-1")])
    login(client, stranger.email)
    for path in (
        stock_url(shop),
        f"{stock_url(shop)}/sync",
        f"{stock_url(shop)}/links.csv",
        sku_url(cid, "TEE-RED-L"),
    ):
        assert client.get(path).status_code == 404, path
    [own] = [c for c in store.list_connections() if c.id != cid]
    own_page = f"/connections/{own.id}/stock"
    for path, data in (
        (f"{stock_url(shop)}/rules", {**GOOD_RULES, "buffer_units": "9"}),
        (f"{stock_url(shop)}/sync", {}),
        (f"{stock_url(shop)}/links/remove", {"tiktok_sku": "TT-1"}),
        (f"{stock_url(shop)}/overrides", {"seller_sku": "TEE-RED-L", "buffer_units": "9"}),
    ):
        assert send(client, path, own_page, dict(data)).status_code == 404, path
    assert store.stock.rules(cid) == (DEFAULT_RULE, {})
    assert store.stock.latest_sync(cid) is None
    assert store.stock.links(cid) == {"TT-1": "SH-1"}


def test_stock_pages_need_a_login_and_forms_a_csrf_token(
    client: httpx.Client, merchant: User, shop: Shop, store: Store
) -> None:
    """Signed out, the page sends the browser to the login; a POST without the page's token is
    refused."""
    response = client.get(stock_url(shop), follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    login(client, merchant.email)
    refused = client.post(f"{stock_url(shop)}/sync", data={}, follow_redirects=False)
    assert refused.status_code == 403
    assert store.stock.latest_sync(shop.connection_id) is None


# -- the full sync -------------------------------------------------------------------------------


def test_sync_now_asks_for_a_full_sync_and_the_page_polls_it(
    client: httpx.Client, merchant: User, shop: Shop, store: Store, app_wakes: list[int]
) -> None:
    """ "Sync everything now" creates a requested sync, wakes the worker, and the page polls
    its progress every 2 s."""
    login(client, merchant.email)
    response = send(client, f"{stock_url(shop)}/sync", stock_url(shop), {})
    assert response.status_code == 303
    sync = store.stock.latest_sync(shop.connection_id)
    assert sync is not None and sync.status == "requested"
    assert app_wakes
    page = client.get(stock_url(shop)).text
    assert f'hx-get="{stock_url(shop)}/sync" hx-trigger="every 2s"' in page
    assert 'data-testid="sync-now"' not in page.split('id="stock-sync"')[1].split("</div>")[0]


def test_progress_shows_the_numbers_then_stops_polling_when_done(
    client: httpx.Client, merchant: User, shop: Shop, store: Store
) -> None:
    """The fragment shows a bar and "Comparing and correcting 4,200 of 10,000 (42 %)" while
    the sync runs; once it is done it comes back without its trigger, with the summary."""
    cid = shop.connection_id
    sync_id = store.stock.start_sync(cid, "worker-1", timedelta(minutes=5))
    assert sync_id is not None
    store.stock.sync_progress(sync_id, stage="Comparing and correcting", done=4200, total=10000)
    login(client, merchant.email)
    running = client.get(f"{stock_url(shop)}/sync").text
    assert '<progress value="4200" max="10000"' in running
    assert "Comparing and correcting 4,200 of 10,000 (42 %)" in text(running)
    assert 'hx-trigger="every 2s"' in running
    store.stock.finish_sync(
        sync_id, "done", "9,990 SKUs follow Shopify; 10 TikTok SKUs have no Shopify match"
    )
    done = client.get(f"{stock_url(shop)}/sync").text
    assert "hx-trigger" not in done and "hx-get" not in done
    assert "9,990 SKUs follow Shopify; 10 TikTok SKUs have no Shopify match" in text(done)
    assert 'data-testid="sync-now"' in done
    page = client.get(stock_url(shop)).text
    assert "10 TikTok SKUs have no Shopify match" in text(
        page.split('data-testid="link-report"')[1]
    )


def test_polling_does_not_take_the_next_pages_messages(
    client: httpx.Client, merchant: User, shop: Shop, store: Store
) -> None:
    """A flash message waiting for the next page survives the progress polls."""
    login(client, merchant.email)
    send(client, f"{stock_url(shop)}/sync", stock_url(shop), {})
    client.get(f"{stock_url(shop)}/sync")
    assert any("Full sync asked for" in f for f in flashes(client, stock_url(shop)))


# -- Retry ---------------------------------------------------------------------------------------


def test_retry_moves_a_failed_sku_back_to_pending(
    client: httpx.Client, merchant: User, shop: Shop, store: Store, app_wakes: list[int]
) -> None:
    """Retry makes one failed SKU due again at once; the others stay failed."""
    cid = shop.connection_id
    failed(store, shop.clock, cid, ["MUG", "TEE-RED-L"], "TikTok refused it")
    login(client, merchant.email)
    response = send(client, f"{stock_url(shop)}/retry", stock_url(shop), {"seller_sku": "MUG"})
    assert response.status_code == 303
    mug, tee = store.stock.sku(cid, "MUG"), store.stock.sku(cid, "TEE-RED-L")
    assert mug is not None and mug.status == "pending" and mug.due_at is not None
    assert tee is not None and tee.status == "failed"
    assert app_wakes


def test_retry_all_failed(client: httpx.Client, merchant: User, shop: Shop, store: Store) -> None:
    """ "Retry all failed" makes every failed SKU of the connection due again."""
    cid = shop.connection_id
    failed(store, shop.clock, cid, ["A", "B", "C"], "TikTok refused it")
    login(client, merchant.email)
    send(client, f"{stock_url(shop)}/retry", stock_url(shop), {})
    assert store.stock.status_counts(cid) == {"pending": 3}
    assert "Retrying 3 failed SKUs now." in flashes(client, stock_url(shop))


# -- one SKU -------------------------------------------------------------------------------------


def test_sku_page_shows_history_in_words_and_local_time(
    client: httpx.Client, merchant: User, shop: Shop, store: Store, places: None
) -> None:
    """The SKU's history, newest first, in the merchant's timezone and in words; with its
    numbers, its rule, and Retry while it has failed."""
    cid = shop.connection_id
    synced(store, shop.clock, cid, "MUG", last_quantity=1, shopify_levels={MAIN: 3})
    row = store.stock.sku(cid, "MUG")
    assert row is not None
    store.stock.add_history(row.id, "shopify", "Shopify: available 3 at location 1 (webhook)")
    shop.clock.advance(timedelta(minutes=1))
    store.stock.add_history(row.id, "tiktok", "Sent to TikTok: Shopify available 3 → TikTok 1")
    shop.clock.advance(timedelta(minutes=1))
    store.stock.add_history(row.id, "sync", "TikTok already shows it")
    login(client, merchant.email)
    page = client.get(sku_url(cid, "MUG")).text
    entries = [text(e) for e in re.findall(r'data-testid="history-entry">(.*?)</li>', page, re.S)]
    assert entries == [
        "2026-11-02 04:02:01 Checked TikTok already shows it",
        "2026-11-02 04:01:01 Sent to TikTok Sent to TikTok: Shopify available 3 → TikTok 1",
        "2026-11-02 04:00:01 Shopify change seen Shopify: available 3 at location 1 (webhook)",
    ]
    now = text(page.split('data-testid="sku-now"')[1].split("</section>")[0])
    assert "Shopify available 3 Main street: 3" in now
    assert "Buffer 2 units" in text(page)
    assert 'data-testid="retry-sku"' not in page


def test_a_failed_sku_can_be_retried_from_its_page(
    client: httpx.Client, merchant: User, shop: Shop, store: Store
) -> None:
    """A failed SKU's page shows why with a Retry that returns to the page."""
    cid = shop.connection_id
    failed(store, shop.clock, cid, ["MUG"], "TikTok refused the stock of MUG: locked")
    login(client, merchant.email)
    page = client.get(sku_url(cid, "MUG")).text
    assert "TikTok refused the stock of MUG: locked" in page
    assert "Failed TikTok refused the stock of MUG: locked" in text(page.split('id="history"')[1])
    response = send(
        client,
        f"{stock_url(shop)}/retry",
        sku_url(cid, "MUG"),
        {"seller_sku": "MUG", "back": sku_url(cid, "MUG")},
    )
    assert response.headers["location"] == sku_url(cid, "MUG") + "#now"
    row = store.stock.sku(cid, "MUG")
    assert row is not None and row.status == "pending"


def test_an_unknown_sku_has_no_page(client: httpx.Client, merchant: User, shop: Shop) -> None:
    """A SKU shopbridge never saw is a 404."""
    login(client, merchant.email)
    assert client.get(sku_url(shop.connection_id, "NOPE")).status_code == 404


@pytest.mark.parametrize("sku", ["<b>x</b>", "A/B?c d%2F#1", "..", "ÄÖ-€"])
def test_any_sku_is_escaped_and_reachable(
    client: httpx.Client, merchant: User, shop: Shop, store: Store, sku: str
) -> None:
    """A SKU of any characters is shown as text (never markup) and its page is reachable."""
    cid = shop.connection_id
    failed(store, shop.clock, cid, [sku], f"TikTok refused the stock of {sku}")
    login(client, merchant.email)
    page = client.get(stock_url(shop)).text
    assert html.escape(sku) in page
    if "<" in sku:
        assert sku not in page
    assert f'href="{html.escape(sku_url(cid, sku))}"' in page
    own = client.get(sku_url(cid, sku))
    assert own.status_code == 200
    assert f'<code data-testid="sku-name">{html.escape(sku)}</code>' in own.text
    send(client, f"{stock_url(shop)}/retry", sku_url(cid, sku), {"seller_sku": sku})
    row = store.stock.sku(cid, sku)
    assert row is not None and row.status == "pending"


def test_sku_overrides_are_saved_and_cleared(
    client: httpx.Client, merchant: User, shop: Shop, store: Store
) -> None:
    """A SKU's own values override the shop's rule (blank inherits), and can be cleared."""
    cid = shop.connection_id
    store.stock.mark(cid, ["MUG"])
    login(client, merchant.email)
    page = sku_url(cid, "MUG")
    form: Form = {
        "seller_sku": "MUG",
        "buffer_units": "5",
        "buffer_percent": "",
        "low_stock_threshold": "",
        "max_quantity": "20",
        "do_not_sync": "1",
        "action": "save",
    }
    assert send(client, f"{stock_url(shop)}/overrides", page, form).status_code == 303
    assert store.stock.rules(cid)[1] == {
        "MUG": StockRule(buffer_units=5, max_quantity=20, sync=False)
    }
    words = text(client.get(page).text)
    assert "Buffer 5 units this SKU" in words and "Maximum on TikTok 20 this SKU" in words
    send(client, f"{stock_url(shop)}/overrides", page, {"seller_sku": "MUG", "action": "clear"})
    assert store.stock.rules(cid)[1] == {}


def test_bad_sku_override_is_refused_naming_the_field(
    client: httpx.Client, merchant: User, shop: Shop, store: Store
) -> None:
    """A negative buffer for one SKU is refused with the field's name; nothing is saved."""
    cid = shop.connection_id
    store.stock.mark(cid, ["MUG"])
    login(client, merchant.email)
    form: Form = {"seller_sku": "MUG", "buffer_units": "-1", "action": "save"}
    send(client, f"{stock_url(shop)}/overrides", sku_url(cid, "MUG"), form)
    assert store.stock.rules(cid)[1] == {}
    assert "Nothing saved: Buffer units cannot be negative (-1)." in flashes(
        client, sku_url(cid, "MUG")
    )


# -- the connection's rule -----------------------------------------------------------------------


def test_rules_are_saved(
    client: httpx.Client,
    merchant: User,
    shop: Shop,
    store: Store,
    world: World,
    places: None,
    app_wakes: list[int],
) -> None:
    """The rule, whose count wins at first link and the sync interval are saved together, and
    the worker is told."""
    cid = shop.connection_id
    store.stock.mark(cid, ["MUG"])
    login(client, merchant.email)
    form: Form = {
        **GOOD_RULES,
        "locations_mode": "chosen",
        "location": [BACK],
        "buffer_units": "3",
        "buffer_percent": "10",
        "low_stock_threshold": "1",
        "max_quantity": "50",
        "stock_primary": "tiktok",
        "stock_sync_minutes": "30",
    }
    assert send(client, f"{stock_url(shop)}/rules", stock_url(shop), form).status_code == 303
    assert store.stock.rules(cid)[0] == StockRule((BACK,), 3, 10, 1, 50, True)
    connection = store.get_connection(cid)
    assert (connection.stock_primary, connection.stock_sync_minutes) == ("tiktok", 30)
    assert world.forgotten == [cid] and app_wakes
    page = client.get(stock_url(shop)).text
    assert f'name="location" value="{BACK}" checked' in page
    assert f'name="location" value="{MAIN}" checked' not in page


def test_saving_unchanged_rules_changes_nothing(
    client: httpx.Client, merchant: User, shop: Shop, store: Store
) -> None:
    """Saving the form as it was does not make every SKU due again."""
    cid = shop.connection_id
    store.stock.mark(cid, ["MUG"])
    shop.clock.advance(timedelta(seconds=1))
    [row] = store.stock.claim("w", 10, timedelta(minutes=1))
    store.stock.finish(row, row.fence, Pushed("synced"))
    login(client, merchant.email)
    send(client, f"{stock_url(shop)}/rules", stock_url(shop), dict(GOOD_RULES))
    assert store.stock.due_count(cid) == 0
    assert "Nothing changed." in flashes(client, stock_url(shop))


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"buffer_units": "-1"}, "Buffer units cannot be negative (-1)."),
        ({"buffer_units": "1.5"}, "Buffer units must be a whole number, not '1.5'."),
        ({"buffer_percent": "101"}, "Buffer percent must be a whole number from 0 to 100"),
        ({"low_stock_threshold": "-3"}, "Low stock threshold cannot be negative (-3)."),
        ({"max_quantity": "lots"}, "Maximum on TikTok must be a whole number, not 'lots'."),
        ({"max_quantity": "100000"}, "Maximum on TikTok cannot be above 99,999."),
        (
            {"locations_mode": "chosen", "location": ["gid://shopify/Location/999"]},
            "Locations: 'gid://shopify/Location/999' is not one of your Shopify locations",
        ),
        ({"locations_mode": "chosen"}, "Locations: choose at least one Shopify location"),
        ({"stock_sync_minutes": "4"}, "Full sync interval must be from 5 to 10,080 minutes"),
        ({"stock_sync_minutes": ""}, "Full sync interval: give a number of minutes."),
        ({"stock_primary": "amazon"}, "choose Shopify or TikTok"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(
    client: httpx.Client,
    merchant: User,
    shop: Shop,
    store: Store,
    places: None,
    change: Form,
    words: str,
) -> None:
    """Each kind of bad input is refused with a message naming the field, and nothing of the
    form is saved (not even its good fields)."""
    cid = shop.connection_id
    login(client, merchant.email)
    form: Form = {**GOOD_RULES, "buffer_units": "7", "stock_primary": "tiktok", **change}
    response = send(client, f"{stock_url(shop)}/rules", stock_url(shop), form)
    assert response.status_code == 303
    [message] = flashes(client, stock_url(shop))
    assert message.startswith("Nothing saved: ") and words in message
    assert store.stock.rules(cid) == (DEFAULT_RULE, {})
    connection = store.get_connection(cid)
    assert (connection.stock_primary, connection.stock_sync_minutes) == ("shopify", 60)


# -- warehouses ----------------------------------------------------------------------------------


def test_warehouse_mapping_is_saved(
    client: httpx.Client, merchant: User, shop: Shop, store: Store, places: None
) -> None:
    """Each Shopify location feeds the TikTok warehouse chosen for it; "not mapped" is left out."""
    cid = shop.connection_id
    login(client, merchant.email)
    form: Form = {"location": [MAIN, BACK], "warehouse": ["WH-EAST", ""]}
    send(client, f"{stock_url(shop)}/warehouses", stock_url(shop), form)
    assert store.stock.warehouse_map(cid) == {MAIN: "WH-EAST"}
    page = client.get(stock_url(shop)).text
    assert '<option value="WH-EAST" selected>US East</option>' in page
    assert "US West (default)" in page


@pytest.mark.parametrize(
    ("form", "words"),
    [
        (
            {"location": [MAIN, BACK], "warehouse": ["WH-EAST", "WH-MARS"]},
            "Back room: 'WH-MARS' is not one of your TikTok warehouses",
        ),
        (
            {"location": [MAIN, "gid://shopify/Location/9"], "warehouse": ["WH-EAST", ""]},
            "'gid://shopify/Location/9' is not one of your Shopify locations",
        ),
    ],
)
def test_unknown_locations_or_warehouses_are_refused(
    client: httpx.Client,
    merchant: User,
    shop: Shop,
    store: Store,
    places: None,
    form: Form,
    words: str,
) -> None:
    """A location or warehouse the last full sync did not list is refused; nothing is saved."""
    cid = shop.connection_id
    store.stock.save_warehouse_map(cid, {BACK: "WH-WEST"})
    login(client, merchant.email)
    send(client, f"{stock_url(shop)}/warehouses", stock_url(shop), form)
    assert store.stock.warehouse_map(cid) == {BACK: "WH-WEST"}
    [message] = flashes(client, stock_url(shop))
    assert words in message


def test_without_a_full_sync_the_page_asks_for_one(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """Before the first full sync there are no locations or warehouses to choose from."""
    login(client, merchant.email)
    page = client.get(stock_url(shop)).text
    section = page.split('id="warehouses"')[1].split("</section>")[0]
    assert "Run a full sync to list your locations and warehouses." in section
    assert 'data-testid="sync-now"' in section and "<select" not in section


# -- SKU mapping ---------------------------------------------------------------------------------


def test_a_mapping_is_added_and_removed(
    client: httpx.Client, merchant: User, shop: Shop, store: Store
) -> None:
    """A pair of codes is mapped, shown, and removed again."""
    cid = shop.connection_id
    login(client, merchant.email)
    form: Form = {"tiktok_sku": "TT-RED-L", "shopify_sku": "TEE-RED-L"}
    send(client, f"{stock_url(shop)}/links", stock_url(shop), form)
    assert store.stock.links(cid) == {"TT-RED-L": "TEE-RED-L"}
    page = client.get(stock_url(shop)).text
    assert 'data-testid="link-row" data-sku="TT-RED-L"' in page
    send(client, f"{stock_url(shop)}/links/remove", stock_url(shop), {"tiktok_sku": "TT-RED-L"})
    assert store.stock.links(cid) == {}
    send(client, f"{stock_url(shop)}/links/remove", stock_url(shop), {"tiktok_sku": "NEVER"})
    assert "NEVER had no mapping (already removed?)." in flashes(client, stock_url(shop))
    assert store.stock.sku(cid, "NEVER") is None


def test_a_shopify_sku_mapped_twice_is_refused(
    client: httpx.Client, merchant: User, shop: Shop, store: Store
) -> None:
    """A Shopify SKU that already follows another TikTok SKU is refused with the reason."""
    cid = shop.connection_id
    store.stock.save_links(cid, [("TT-1", "SH-1")])
    login(client, merchant.email)
    send(
        client,
        f"{stock_url(shop)}/links",
        stock_url(shop),
        {"tiktok_sku": "TT-2", "shopify_sku": "SH-1"},
    )
    assert store.stock.links(cid) == {"TT-1": "SH-1"}
    [message] = flashes(client, stock_url(shop))
    assert message == (
        "Nothing saved: Shopify SKU 'SH-1' already follows TikTok SKU 'TT-1'; remove that "
        "mapping first."
    )


def upload(client: httpx.Client, shop: Shop, content: bytes, mode: str = "add") -> httpx.Response:
    return send(
        client,
        f"{stock_url(shop)}/links/import",
        stock_url(shop),
        {"mode": mode},
        files={"csv": ("mapping.csv", content, "text/csv")},
    )


def test_csv_import_adds_or_replaces_mappings(
    client: httpx.Client, merchant: User, shop: Shop, store: Store
) -> None:
    """A spreadsheet's CSV (BOM, CRLF, trailing blank line) adds its rows; "replace all" makes
    them the only mappings."""
    cid = shop.connection_id
    store.stock.save_links(cid, [("OLD", "OLD-SH")])
    login(client, merchant.email)
    content = "\ufefftiktok_sku,shopify_sku\r\nA,A-SH\r\nB,B-SH\r\n\r\n".encode()
    assert upload(client, shop, content).status_code == 303
    assert store.stock.links(cid) == {"A": "A-SH", "B": "B-SH", "OLD": "OLD-SH"}
    assert "Imported 2 SKU mappings." in flashes(client, stock_url(shop))
    upload(client, shop, b"tiktok_sku,shopify_sku\nC,C-SH\n", mode="replace")
    assert store.stock.links(cid) == {"C": "C-SH"}


def test_csv_with_a_duplicate_row_is_refused_naming_the_row(
    client: httpx.Client, merchant: User, shop: Shop, store: Store
) -> None:
    """A TikTok SKU mapped twice refuses the whole file, naming both rows; nothing is saved."""
    cid = shop.connection_id
    store.stock.save_links(cid, [("OLD", "OLD-SH")])
    login(client, merchant.email)
    upload(client, shop, b"tiktok_sku,shopify_sku\nA,X\nB,Y\nA,Z\n", mode="replace")
    assert store.stock.links(cid) == {"OLD": "OLD-SH"}
    assert flashes(client, stock_url(shop)) == [
        "Nothing imported: Row 3: TikTok SKU 'A' is mapped twice (also row 1)."
    ]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"A,X\nB,Y\n", "The first row must be the header tiktok_sku,shopify_sku"),
        (b"tiktok_sku,shopify_sku\nA,X\nB\n", "Row 2: expected 2 columns"),
        (b"tiktok_sku,shopify_sku\n", "no rows under its header"),
        (b"tiktok_sku,shopify_sku\n\xff\xfe,A\n", "not UTF-8 text"),
    ],
)
def test_a_malformed_csv_is_refused(
    client: httpx.Client, merchant: User, shop: Shop, store: Store, content: bytes, words: str
) -> None:
    """A CSV without the header, with a short row, without rows, or not in UTF-8 is refused
    with the reason; nothing is saved."""
    login(client, merchant.email)
    upload(client, shop, content)
    assert store.stock.links(shop.connection_id) == {}
    [message] = flashes(client, stock_url(shop))
    assert message.startswith("Nothing imported: ") and words in message


@pytest.mark.parametrize("extra", [1, 3 * 1024 * 1024])
def test_a_csv_bigger_than_the_limit_is_refused(
    client: httpx.Client, merchant: User, shop: Shop, store: Store, extra: int
) -> None:
    """A file over 2 MiB (just over, or far over) is refused with a clear message before any
    of it is read as CSV."""
    login(client, merchant.email)
    content = b"tiktok_sku,shopify_sku\nA,B\n"
    content += b"x" * (MAX_UPLOAD_BYTES - len(content) + extra)
    response = upload(client, shop, content)
    assert response.status_code == 303
    assert store.stock.links(shop.connection_id) == {}
    assert flashes(client, stock_url(shop)) == ["Nothing imported: The file is bigger than 2 MiB."]


def test_csv_export_round_trips(
    client: httpx.Client, merchant: User, shop: Shop, store: Store
) -> None:
    """The exported CSV, imported with "replace all", gives back the same mappings (commas and
    quotes in SKUs included)."""
    cid = shop.connection_id
    mappings = {"A": "A-SH", 'B,"2"': "B SH", "ÄÖ": "=1+1"}
    store.stock.save_links(cid, list(mappings.items()))
    login(client, merchant.email)
    exported = client.get(f"{stock_url(shop)}/links.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0] == ["tiktok_sku", "shopify_sku"]
    assert dict(rows[1:]) == mappings  # type: ignore[arg-type]
    store.stock.save_links(cid, [("OTHER", "OTHER-SH")], replace=True)
    upload(client, shop, exported.content, mode="replace")
    assert store.stock.links(cid) == mappings


def test_a_skus_address_encodes_it_whole(shop: Shop) -> None:
    """A SKU's page address encodes the SKU whole, slashes included."""
    cid = shop.connection_id
    assert sku_url(cid, "A/B c") == f"/connections/{cid}/stock/sku/{quote('A/B c', safe='')}"
