"""ShopifyDriver's inventory acts over the control API: sales, the merchant's counts, locations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from shopbridge_sandbox.driver import Refused, ShopifyDriver, SoldOut
from shopbridge_sandbox.serving import BackgroundServer
from shopbridge_sandbox.shopify import ShopifySandbox, StoreCredentials


@pytest.fixture
async def driver(server: BackgroundServer) -> AsyncIterator[ShopifyDriver]:
    client = ShopifyDriver(server.base_url)
    yield client
    await client.aclose()


async def test_the_driver_sells_and_reports_what_is_left(
    driver: ShopifyDriver, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """sell() places a paid web order and answers the available count left at the location."""
    sold = await driver.sell(store.name, "TEE-RED-L", 3)

    assert (sold["name"], sold["available"]) == ("#1001", 7)
    assert sandbox.order(store.name, sold["order_id"])["source_name"] == "web"
    assert (await driver.inventory(store.name, "TEE-RED-L"))["committed"] == 3


async def test_a_sold_out_sale_raises_sold_out(
    driver: ShopifyDriver, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """Selling 11 of 10 (DENY) raises SoldOut, a Refused with HTTP 409; nothing is sold."""
    with pytest.raises(SoldOut, match="sold out") as refused:
        await driver.sell(store.name, "TEE-RED-L", 11, channel="pos")

    assert isinstance(refused.value, Refused)
    assert refused.value.status == 409
    assert sandbox.orders(store.name) == []


async def test_the_driver_stocks_a_new_location(
    driver: ShopifyDriver, store: StoreCredentials, tee: dict[str, Any]
) -> None:
    """add_location, set_available and adjust act at the new location only."""
    pop_up = await driver.add_location(store.name, "Pop-up")

    set_to = await driver.set_available(store.name, "TEE-RED-L", 6, pop_up)
    adjusted = await driver.adjust(store.name, "TEE-RED-L", -2, pop_up)
    sold = await driver.sell(store.name, "TEE-RED-L", 1, channel="pos", location_id=pop_up)

    assert pop_up.startswith("gid://shopify/Location/")
    assert (set_to["available"], adjusted["available"], sold["available"]) == (6, 4, 3)
    assert (await driver.inventory(store.name, "TEE-RED-L", pop_up))["committed"] == 1
    assert (await driver.inventory(store.name, "TEE-RED-L", store.location_id))["available"] == 10


async def test_the_driver_reports_an_unknown_sku_as_refused(
    driver: ShopifyDriver, store: StoreCredentials
) -> None:
    """A control call naming an unknown SKU raises Refused with HTTP 404, not SoldOut."""
    with pytest.raises(Refused) as refused:
        await driver.sell(store.name, "NOPE")

    assert not isinstance(refused.value, SoldOut)
    assert refused.value.status == 404
