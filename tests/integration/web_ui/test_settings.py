"""The settings page: connection health, holdback, carrier mapping, unlinked SKUs."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from starlette.applications import Starlette

from shopbridge.store import Store
from shopbridge.web.accounts import User
from shopbridge_sandbox.serving import BackgroundServer
from support.world import World

from .conftest import Shop, login, post


def settings_url(shop: Shop) -> str:
    return f"/connections/{shop.connection_id}/settings"


def test_settings_show_connection_status_reconciliation_and_token_expiry(
    client: httpx.Client, merchant: User, shop: Shop, store: Store
) -> None:
    """Status, last reconciliation and token expiry are shown in the merchant's timezone."""
    now = shop.clock.now()
    store.update_connection(
        shop.connection_id, last_reconciled_at=now, tiktok_token_expires_at=now - timedelta(days=1)
    )
    login(client, merchant.email)
    html = client.get(settings_url(shop)).text
    assert "active" in html
    assert "2026-11-02 04:00" in html  # 09:00 UTC in New York
    assert "2026-11-01 04:00" in html
    assert "expired" in html


def test_holdback_can_be_raised(client: httpx.Client, merchant: User, shop: Shop) -> None:
    """A holdback of 180 minutes is saved and confirmed."""
    login(client, merchant.email)
    response = post(
        client, f"{settings_url(shop)}/holdback", settings_url(shop), holdback_minutes="180"
    )
    assert response.status_code == 303
    assert shop.world.store.get_connection(shop.connection_id).holdback_minutes == 180
    assert "Holdback set to 180 minutes" in client.get(settings_url(shop)).text


def test_holdback_below_60_minutes_is_refused(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """A holdback under 60 minutes is refused with a clear reason and nothing changes."""
    login(client, merchant.email)
    response = post(
        client, f"{settings_url(shop)}/holdback", settings_url(shop), holdback_minutes="45"
    )
    assert response.status_code == 400
    assert "cannot be shorter than 60 minutes" in response.text
    assert shop.world.store.get_connection(shop.connection_id).holdback_minutes == 60


def test_holdback_that_is_not_a_number_is_refused(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """A holdback that is not a whole number of minutes is refused."""
    login(client, merchant.email)
    response = post(
        client, f"{settings_url(shop)}/holdback", settings_url(shop), holdback_minutes="1h"
    )
    assert response.status_code == 400
    assert "whole number of minutes" in response.text


def test_holdback_change_is_reported_to_the_worker(
    world: World, shop: Shop, merchant: User
) -> None:
    """After a settings change the app tells the service's connection contexts at once."""
    app: Starlette = world.service.web(secret_key="k")
    with (
        BackgroundServer(app) as server,
        httpx.Client(base_url=server.base_url, follow_redirects=True) as client,
    ):
        login(client, merchant.email)
        post(client, f"{settings_url(shop)}/holdback", settings_url(shop), holdback_minutes="90")
    assert world.forgotten == [shop.connection_id]


def test_carrier_mapping_rows_can_be_added_and_removed(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """A mapping row is added, shown, and removed again."""
    login(client, merchant.email)
    add = f"{settings_url(shop)}/carriers"
    post(client, add, settings_url(shop), shopify_company="Royal Mail", tiktok_provider="RM24")
    post(client, add, settings_url(shop), shopify_company="DHL Express", tiktok_provider="DHL")
    store = shop.world.store
    assert store.get_connection(shop.connection_id).carrier_mapping == {
        "Royal Mail": "RM24",
        "DHL Express": "DHL",
    }
    html = client.get(settings_url(shop)).text
    assert re.findall(r'data-testid="carrier-row" data-company="([^"]+)"', html) == [
        "DHL Express",
        "Royal Mail",
    ]
    post(client, f"{add}/remove", settings_url(shop), shopify_company="Royal Mail")
    assert store.get_connection(shop.connection_id).carrier_mapping == {"DHL Express": "DHL"}
    assert 'data-company="Royal Mail"' not in client.get(settings_url(shop)).text


def test_carrier_mapping_needs_both_names(client: httpx.Client, merchant: User, shop: Shop) -> None:
    """A mapping row without a TikTok provider is refused."""
    login(client, merchant.email)
    response = post(
        client,
        f"{settings_url(shop)}/carriers",
        settings_url(shop),
        shopify_company="UPS",
        tiktok_provider=" ",
    )
    assert response.status_code == 400
    assert shop.world.store.get_connection(shop.connection_id).carrier_mapping == {}


def test_carrier_form_suggests_shopify_tracking_companies(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """The Shopify company field suggests Shopify's own tracking company names."""
    login(client, merchant.email)
    html = client.get(settings_url(shop)).text
    assert '<option value="DHL Express">' in html


def test_unlinked_skus_are_reported_with_their_orders(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """SKUs no Shopify variant carries are listed with the orders that sold them."""
    shop.paid("576486316948490001", skus={"GHOST-HAT": 1, "TEE-RED-L": 1})
    shop.paid("576486316948490002", skus={"GHOST-HAT": 2})
    shop.paid("576486316948490003", skus={"TEE-RED-L": 1})
    login(client, merchant.email)
    html = client.get(settings_url(shop)).text
    assert re.findall(r"<code>([^<]+)</code>", html.split('id="unlinked"')[1]) == ["GHOST-HAT"]
    assert "576486316948490001" in html
    assert "576486316948490002" in html
    assert "576486316948490003" not in html


def test_no_unlinked_skus_says_so(client: httpx.Client, merchant: User, shop: Shop) -> None:
    """With every SKU linked, the report says so."""
    shop.paid("576486316948490001")
    login(client, merchant.email)
    assert "Every SKU TikTok sold has a Shopify variant." in client.get(settings_url(shop)).text


def test_deliveries_that_failed_for_good_are_listed_with_a_retry(
    client: httpx.Client, merchant: User, shop: Shop, store: Store
) -> None:
    """Settings lists the connection's failed notifications with shopbridge's reason, and Retry
    makes one due again; another connection's items cannot be retried from here."""
    store.record_delivery(
        source="tiktok",
        delivery_key="n-1",
        topic="ORDER_STATUS_CHANGE",
        connection_id=shop.connection_id,
        headers={},
        body=b"{}",
        status="failed",
        error="unexpected KeyError: 'order_id' (gave up after 8 attempts)",
    )
    login(client, merchant.email)
    page = client.get(settings_url(shop)).text
    assert 'data-testid="failed-delivery"' in page
    assert "gave up after 8 attempts" in page
    [item] = store.failed_inbox(shop.connection_id)
    post(
        client,
        f"{settings_url(shop)}/retry",
        settings_url(shop),
        kind="delivery",
        item_id=str(item.id),
    )
    assert [i.status for i in store.inbox_items()] == ["pending"]
    assert 'data-testid="no-stuck-work"' in client.get(settings_url(shop)).text
    other = store.add_connection(name="Other", tiktok_shop_id="1", shopify_domain="o.myshopify.com")
    store.record_delivery(
        source="tiktok",
        delivery_key="n-2",
        topic="ORDER_STATUS_CHANGE",
        connection_id=other,
        headers={},
        body=b"{}",
        status="failed",
        error="x",
    )
    [foreign] = store.failed_inbox(other)
    post(
        client,
        f"{settings_url(shop)}/retry",
        settings_url(shop),
        kind="delivery",
        item_id=str(foreign.id),
    )
    assert [i.status for i in store.inbox_items() if i.id == foreign.id] == ["failed"]


def order_options_of(shop: Shop) -> tuple[bool, bool]:
    connection = shop.world.store.get_connection(shop.connection_id)
    return connection.create_after_holdback, connection.restock_returns


def checked(html: str, name: str) -> bool:
    found = re.search(rf'<input type="checkbox" name="{name}"[^>]*>', html)
    assert found, f"the page has the {name} checkbox"
    return " checked" in found.group(0)


def test_order_options_are_off_until_the_merchant_turns_them_on(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """Both order switches start off, are saved when ticked, and show ticked afterwards."""
    login(client, merchant.email)
    html = client.get(settings_url(shop)).text
    assert not checked(html, "create_after_holdback")
    assert not checked(html, "restock_returns")
    assert "ignore holds" in html
    assert "press Restock on the order" in html
    response = post(
        client,
        f"{settings_url(shop)}/orders",
        settings_url(shop),
        create_after_holdback="1",
        restock_returns="1",
    )
    assert response.status_code == 303
    assert order_options_of(shop) == (True, True)
    html = client.get(settings_url(shop)).text
    assert checked(html, "create_after_holdback")
    assert checked(html, "restock_returns")
    assert "Saved: Shopify orders are created only once the holdback is over; returned" in html


def test_unticking_an_order_option_turns_only_it_off(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """A checkbox left unticked is off; the other keeps its value."""
    shop.world.store.update_connection(
        shop.connection_id, create_after_holdback=True, restock_returns=True
    )
    login(client, merchant.email)
    post(client, f"{settings_url(shop)}/orders", settings_url(shop), create_after_holdback="1")
    assert order_options_of(shop) == (True, False)
    html = client.get(settings_url(shop)).text
    assert "Saved: returned items wait for your Restock on the order." in html
    assert not checked(html, "restock_returns")


def test_order_options_saved_unchanged_change_nothing(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """Saving the form as it is writes nothing: the connection's settings version stays."""
    before = shop.world.store.get_connection(shop.connection_id).settings_version
    login(client, merchant.email)
    post(client, f"{settings_url(shop)}/orders", settings_url(shop))
    assert shop.world.store.get_connection(shop.connection_id).settings_version == before
    assert "Nothing changed." in client.get(settings_url(shop)).text
