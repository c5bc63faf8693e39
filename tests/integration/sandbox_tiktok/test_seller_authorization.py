"""The seller authorization link, its approval page and the redirect (tiktok_shop_api_wave2.md
§1.1, §1.2, §1.4)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from shopbridge.clock import ManualClock
from shopbridge_sandbox.serving import BackgroundServer
from shopbridge_sandbox.tiktok import ShopCredentials, TikTokSandbox

from .tiktok_http import SignedClient, loopback_client

CALLBACK = "https://bridge.example/auth/tiktok/callback"
SHOPS = "/authorization/202309/shops"
ORDERS = "/order/202309/orders/search"


@pytest.fixture
def http(server: BackgroundServer) -> Iterator[httpx.Client]:
    with loopback_client(server.base_url) as client:
        yield client


@pytest.fixture
def service_id(http: httpx.Client, sandbox: TikTokSandbox) -> str:
    """The app's service id, after its redirect URL was set over the control API."""
    app = http.post(f"/_sandbox/apps/{sandbox.app_key}", json={"redirect_url": CALLBACK}).json()
    assert app["redirect_url"] == CALLBACK
    return str(app["service_id"])


def decide(http: httpx.Client, form: dict[str, Any]) -> dict[str, str]:
    """Submit the approval form; the query the app's redirect URL receives."""
    answer = http.post("/open/authorize", data=form)
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(f"{CALLBACK}?")
    return dict(parse_qsl(urlsplit(location).query))


def tokens_for(http: httpx.Client, shop: ShopCredentials, code: str) -> dict[str, Any]:
    answer = http.get(
        "/api/v2/token/get",
        params={
            "app_key": shop.app_key,
            "app_secret": shop.app_secret,
            "auth_code": code,
            "grant_type": "authorized_code",
        },
    ).json()
    assert answer["code"] == 0, answer
    data: dict[str, Any] = answer["data"]
    return data


def signed(
    server: BackgroundServer, shop: ShopCredentials, token: str, clock: ManualClock
) -> SignedClient:
    return SignedClient(server.base_url, dataclasses.replace(shop, access_token=token), clock)


def test_the_page_lists_every_shop_of_the_seller_checked(
    http: httpx.Client, service_id: str, shop: ShopCredentials, uk_shop: ShopCredentials
) -> None:
    """GET /open/authorize?service_id shows a checked box per shop and both buttons."""
    page = http.get("/open/authorize", params={"service_id": service_id, "state": "s1"})

    assert page.status_code == 200
    boxes = re.findall(r'<input type="checkbox" name="shop_id" value="(\d+)" checked>', page.text)
    assert boxes == [shop.shop_id, uk_shop.shop_id]
    assert '<input type="hidden" name="state" value="s1">' in page.text
    assert 'value="authorize">Authorize</button>' in page.text
    assert 'value="reject">Reject</button>' in page.text


@pytest.mark.usefixtures("shop")
def test_without_a_redirect_url_the_page_says_so(
    http: httpx.Client, sandbox: TikTokSandbox
) -> None:
    """An app with no redirect URL cannot be authorized: 400 saying how to set one."""
    service_id = sandbox.app_settings()["service_id"]

    page = http.get("/open/authorize", params={"service_id": service_id})

    assert page.status_code == 400
    assert "no redirect URL" in page.text


@pytest.mark.usefixtures("shop", "service_id")
def test_an_unknown_service_id_is_a_400_page(http: httpx.Client) -> None:
    """A link with a service id no app has is refused."""
    page = http.get("/open/authorize", params={"service_id": "7000000000000000000"})

    assert page.status_code == 400
    assert "service_id" in page.text


def test_authorizing_returns_a_code_whose_token_covers_the_chosen_shops(
    http: httpx.Client,
    server: BackgroundServer,
    service_id: str,
    shop: ShopCredentials,
    uk_shop: ShopCredentials,
    clock: ManualClock,
) -> None:
    """Authorize with both shops: ?code&state; the token lists both and works with each cipher."""
    form = {"service_id": service_id, "state": "s1", "shop_id": [shop.shop_id, uk_shop.shop_id]}

    redirect = decide(http, form | {"decision": "authorize"})
    tokens = tokens_for(http, shop, redirect["code"])

    assert set(redirect) == {"code", "state"}
    assert redirect["state"] == "s1"
    client = signed(server, shop, tokens["access_token"], clock)
    try:
        listed = client.ok("GET", SHOPS, cipher=None)["shops"]
        assert [s["id"] for s in listed] == [shop.shop_id, uk_shop.shop_id]
        for cipher in (shop.shop_cipher, uk_shop.shop_cipher):
            client.ok("POST", ORDERS, {"page_size": "10"}, {}, cipher=cipher)
    finally:
        client.close()


def test_unchecked_shops_are_not_granted(
    http: httpx.Client,
    server: BackgroundServer,
    service_id: str,
    shop: ShopCredentials,
    uk_shop: ShopCredentials,
    clock: ManualClock,
) -> None:
    """Authorize with only the UK shop: the token is refused for the US shop's cipher."""
    form = {"service_id": service_id, "shop_id": uk_shop.shop_id, "decision": "authorize"}

    redirect = decide(http, form)
    tokens = tokens_for(http, shop, redirect["code"])

    assert set(redirect) == {"code"}  # no state in the link, none in the redirect
    client = signed(server, shop, tokens["access_token"], clock)
    try:
        assert [s["id"] for s in client.ok("GET", SHOPS, cipher=None)["shops"]] == [uk_shop.shop_id]
        status, code, _ = client.error("POST", ORDERS, {"page_size": "10"}, {})
        assert (status, code) == (403, 101000)
    finally:
        client.close()


@pytest.mark.usefixtures("shop")
def test_rejecting_redirects_with_access_denied(http: httpx.Client, service_id: str) -> None:
    """Reject sends the seller back with code=null&error=access_denied and the state."""
    redirect = decide(http, {"service_id": service_id, "state": "s1", "decision": "reject"})

    assert redirect == {"code": "null", "error": "access_denied", "state": "s1"}


@pytest.mark.usefixtures("shop")
def test_authorizing_no_shop_is_refused(http: httpx.Client, service_id: str) -> None:
    """At least one shop must be checked."""
    answer = http.post("/open/authorize", data={"service_id": service_id, "decision": "authorize"})

    assert answer.status_code == 400
    assert "at least one" in answer.text


def test_the_code_is_single_use_and_lasts_thirty_minutes(
    http: httpx.Client, service_id: str, shop: ShopCredentials, clock: ManualClock
) -> None:
    """A code works once; another one, redeemed 30 minutes after approval, is refused."""
    form = {"service_id": service_id, "shop_id": shop.shop_id, "decision": "authorize"}
    first, late = decide(http, form)["code"], decide(http, form)["code"]
    params = {"app_key": shop.app_key, "app_secret": shop.app_secret}
    params |= {"grant_type": "authorized_code"}

    tokens_for(http, shop, first)
    again = http.get("/api/v2/token/get", params=params | {"auth_code": first}).json()
    clock.advance(timedelta(minutes=30))
    expired = http.get("/api/v2/token/get", params=params | {"auth_code": late}).json()

    assert again["code"] != 0
    assert "already used" in again["message"]
    assert expired["code"] != 0
    assert "expired" in expired["message"]


def test_the_python_api_gives_the_same_link(sandbox: TikTokSandbox) -> None:
    """authorization_url() is the path of Partner Center's link, with the state when given."""
    service_id = sandbox.app_settings()["service_id"]

    assert sandbox.authorization_url() == f"/open/authorize?service_id={service_id}"
    assert sandbox.authorization_url("a b") == f"/open/authorize?service_id={service_id}&state=a+b"
