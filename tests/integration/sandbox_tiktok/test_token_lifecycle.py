"""Token rotation, lifetimes, deauthorization and stable demo credentials
(tiktok_shop_api_wave2.md §1.3, §1.5)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from shopbridge.clock import ManualClock
from shopbridge_sandbox.serving import BackgroundServer
from shopbridge_sandbox.tiktok import ShopCredentials, TikTokSandbox
from shopbridge_sandbox.tiktok.cli import DEMO_APP_KEY, DEMO_APP_SECRET, seeded_sandbox

from .tiktok_http import SignedClient, WebhookReceiver, loopback_client

SHOPS = "/authorization/202309/shops"


@pytest.fixture
def http(server: BackgroundServer) -> Iterator[httpx.Client]:
    with loopback_client(server.base_url) as client:
        yield client


def refresh(http: httpx.Client, shop: ShopCredentials, refresh_token: str) -> dict[str, Any]:
    envelope: dict[str, Any] = http.get(
        "/api/v2/token/refresh",
        params={
            "app_key": shop.app_key,
            "app_secret": shop.app_secret,
            "refresh_token": refresh_token,
            "grant_type": "refresh_token",
        },
    ).json()
    return envelope


def call_shops(
    server: BackgroundServer, shop: ShopCredentials, token: str, clock: ManualClock
) -> tuple[int, str]:
    """(envelope code, message) of Get Authorized Shops with `token`."""
    client = SignedClient(server.base_url, dataclasses.replace(shop, access_token=token), clock)
    try:
        envelope = client.request("GET", SHOPS, cipher=None).json()
    finally:
        client.close()
    return envelope["code"], envelope["message"]


def test_refresh_rotates_both_tokens_and_the_old_access_token_stops_at_once(
    http: httpx.Client, server: BackgroundServer, shop: ShopCredentials, clock: ManualClock
) -> None:
    """A refresh answers a new access and refresh token; the old access token is refused at
    once, the new one works."""
    renewed = refresh(http, shop, shop.refresh_token)["data"]

    assert renewed["refresh_token"] != shop.refresh_token
    assert renewed["access_token"] != shop.access_token
    assert call_shops(server, shop, renewed["access_token"], clock)[0] == 0
    code, message = call_shops(server, shop, shop.access_token, clock)
    assert code == 36009004
    assert "invalid" in message


def test_a_spent_refresh_token_is_refused_so_a_lost_rotation_shows(
    http: httpx.Client, shop: ShopCredentials
) -> None:
    """Refreshing twice with the same refresh token: the second is refused, saying why; the
    token from the first refresh keeps rotating."""
    first = refresh(http, shop, shop.refresh_token)

    second = refresh(http, shop, shop.refresh_token)
    third = refresh(http, shop, first["data"]["refresh_token"])

    assert second["code"] != 0
    assert second["data"] is None
    assert "already been used" in second["message"]
    assert third["code"] == 0


def test_the_refresh_token_keeps_the_authorizations_expiry(
    http: httpx.Client, shop: ShopCredentials, clock: ManualClock
) -> None:
    """refresh_token_expire_in stays the first authorization's; access expiry moves on."""
    first = refresh(http, shop, shop.refresh_token)["data"]
    clock.advance(timedelta(days=3))

    second = refresh(http, shop, first["refresh_token"])["data"]

    assert second["refresh_token_expire_in"] == first["refresh_token_expire_in"]
    assert second["access_token_expire_in"] == first["access_token_expire_in"] + 3 * 86400


def test_a_shortened_lifetime_expires_tokens_issued_after_it(
    http: httpx.Client,
    server: BackgroundServer,
    sandbox: TikTokSandbox,
    shop: ShopCredentials,
    clock: ManualClock,
) -> None:
    """POST /_sandbox/apps/{app_key} {access_token_lifetime: 5}: the next token expires after
    5 s with 105002 "Expired credentials"."""
    app = http.post(f"/_sandbox/apps/{shop.app_key}", json={"access_token_lifetime": 5}).json()
    renewed = refresh(http, shop, shop.refresh_token)["data"]

    assert app["access_token_lifetime"] == 5
    assert renewed["access_token_expire_in"] == int(clock.now().timestamp()) + 5
    clock.advance(timedelta(seconds=4))
    assert call_shops(server, shop, renewed["access_token"], clock)[0] == 0
    clock.advance(timedelta(seconds=1))
    code, message = call_shops(server, shop, renewed["access_token"], clock)
    assert code == 105002
    assert message.startswith("Expired credentials")
    assert sandbox.app_settings()["access_token_lifetime"] == 5


def test_the_app_control_route_refuses_unknown_settings_and_apps(
    http: httpx.Client, shop: ShopCredentials
) -> None:
    """Only redirect_url and access_token_lifetime are settable; an unknown app is a 404."""
    assert http.post(f"/_sandbox/apps/{shop.app_key}", json={"app_secret": "x"}).status_code == 400
    assert http.get("/_sandbox/apps/nosuchapp").status_code == 404
    assert http.get(f"/_sandbox/apps/{shop.app_key}").json()["app_secret"] == shop.app_secret


async def test_deauthorizing_revokes_the_tokens_and_sends_type_6(
    http: httpx.Client,
    server: BackgroundServer,
    sandbox: TikTokSandbox,
    shop: ShopCredentials,
    receiver: WebhookReceiver,
    clock: ManualClock,
) -> None:
    """The seller cancels the authorization: SELLER_DEAUTHORIZATION with TikTok's message, calls
    answer 105001, the refresh token is refused and the shop's events stop."""
    sandbox.set_webhook_url(shop.shop_id, receiver.url)
    deauthorize = f"/_sandbox/shops/{shop.shop_id}/deauthorize"

    async with httpx.AsyncClient(base_url=server.base_url) as control:
        answer = await control.post(deauthorize, json={})
        again = await control.post(deauthorize, json={})
    sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1})
    await sandbox.tick()

    assert answer.json() == {"shop_id": shop.shop_id, "deauthorized": True}
    [notice] = receiver.of_type(6)
    assert notice["shop_id"] == shop.shop_id
    assert notice["data"] == {
        "message": f"Shop_id {shop.shop_id} is deauthorized from your APP by merchant."
    }
    assert receiver.of_type(1) == []
    assert call_shops(server, shop, shop.access_token, clock)[0] == 105001
    assert refresh(http, shop, shop.refresh_token)["code"] != 0
    assert again.status_code == 409


async def test_authorizing_again_after_deauthorization_resumes_webhooks(
    server: BackgroundServer,
    sandbox: TikTokSandbox,
    shop: ShopCredentials,
    receiver: WebhookReceiver,
) -> None:
    """A new auth code redeemed for the shop brings its order webhooks back."""
    sandbox.set_webhook_url(shop.shop_id, receiver.url)
    sandbox.deauthorize(shop.shop_id)
    params = {"app_key": shop.app_key, "app_secret": shop.app_secret}
    params |= {"auth_code": sandbox.issue_auth_code(shop.shop_id), "grant_type": "authorized_code"}

    async with httpx.AsyncClient(base_url=server.base_url) as auth_host:
        redeemed = await auth_host.get("/api/v2/token/get", params=params)
    assert redeemed.json()["code"] == 0
    sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1})
    await sandbox.tick()

    assert len(receiver.of_type(1)) == 1


def test_the_demo_credentials_and_catalogue_are_the_same_on_every_start() -> None:
    """Two seeded sandboxes hand out the same app, shop, tokens and SKU ids."""
    first, second = seeded_sandbox(ManualClock()), seeded_sandbox(ManualClock())
    shop_id = first.shop_ids()[0]

    assert first.credentials(shop_id) == second.credentials(second.shop_ids()[0])
    assert (first.app_key, first.app_secret) == (DEMO_APP_KEY, DEMO_APP_SECRET)
    assert first.app_settings() == second.app_settings()
    assert first.sku_id(shop_id, "MUG-WHT") == second.sku_id(shop_id, "MUG-WHT")


def test_flags_override_the_demo_app(sandbox: TikTokSandbox) -> None:
    """Given app credentials, redirect URL and lifetime replace the defaults."""
    custom = seeded_sandbox(
        ManualClock(),
        app_key="mykey",
        app_secret="mysecret",
        redirect_url="https://bridge.example/cb",
        token_lifetime=60,
    )

    settings = custom.app_settings()
    assert (settings["app_key"], settings["app_secret"]) == ("mykey", "mysecret")
    assert (settings["redirect_url"], settings["access_token_lifetime"]) == (
        "https://bridge.example/cb",
        60,
    )
    assert custom.credentials(custom.shop_ids()[0]).app_key == "mykey"
