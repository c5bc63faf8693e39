"""The install flow, token grants and their lifetimes, uninstall (shopify_api_wave2.md §1)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from shopbridge.clock import ManualClock
from shopbridge_sandbox.serving import BackgroundServer
from shopbridge_sandbox.shopify import ShopifySandbox, StoreCredentials
from shopbridge_sandbox.shopify.cli import DEMO_PRODUCTS, demo_sandbox
from shopbridge_sandbox.shopify.partner_app import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

from .shopify_http import GRAPHQL_PATH, WebhookSink

CALLBACK = "https://bridge.example/auth/shopify/callback"
SCOPES = "write_orders,read_products"
WHO_AM_I = "{ shop { name } }"


def spec_hmac(params: dict[str, str], secret: str) -> str:
    """§1.2 step 1, written independently of the sandbox: drop hmac and signature, sort the
    keys, join `k=v` with `&`, HMAC-SHA256 with the client secret, hex."""
    message = "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in ("hmac", "signature"))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
def http(server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client


def authorize_query(**overrides: str) -> dict[str, str]:
    query = {
        "client_id": DEFAULT_CLIENT_ID,
        "scope": SCOPES,
        "redirect_uri": CALLBACK,
        "state": "nonce-123",
        "grant_options[]": "",
    }
    return query | overrides


def install(http: httpx.Client, shop: str | None = None, **overrides: str) -> dict[str, str]:
    """Press Install on the approval page; the query the app's callback receives."""
    form = authorize_query(**overrides) | ({"shop": shop} if shop else {})
    answer = http.post("/admin/oauth/authorize", data=form)
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(f"{CALLBACK}?")
    return dict(parse_qsl(urlsplit(location).query))


def grant(http: httpx.Client, status: int = 200, **fields: str) -> dict[str, Any]:
    body = {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET} | fields
    answer = http.post("/admin/oauth/access_token", json=body)
    assert answer.status_code == status, answer.text
    data: dict[str, Any] = answer.json()
    return data


def shop_seen_by(http: httpx.Client, token: str) -> str | None:
    """The shop an Admin API call with `token` acts for; None when it is refused with 401."""
    answer = http.post(
        GRAPHQL_PATH, json={"query": WHO_AM_I}, headers={"X-Shopify-Access-Token": token}
    )
    if answer.status_code == 401:
        assert answer.json() == {
            "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
        }
        return None
    assert answer.status_code == 200, answer.text
    name: str = answer.json()["data"]["shop"]["name"]
    return name


def expiring_pair(http: httpx.Client) -> dict[str, Any]:
    return grant(http, code=install(http)["code"], expiring="1")


# --- the approval page -------------------------------------------------------------------


@pytest.mark.usefixtures("store")
def test_the_approval_page_names_the_app_the_shop_and_the_scopes(http: httpx.Client) -> None:
    """GET /admin/oauth/authorize shows who asks for what, with an Install form that posts back."""
    page = http.get("/admin/oauth/authorize", params=authorize_query())

    assert page.status_code == 200
    assert "shopbridge wants to access demo.myshopify.com: scopes write_orders, read_products" in (
        page.text
    )
    assert '<form method="post" action="/admin/oauth/authorize">' in page.text
    assert '<input type="hidden" name="state" value="nonce-123">' in page.text
    assert ">Install</button>" in page.text


@pytest.mark.usefixtures("store")
def test_an_unknown_client_id_gets_a_400_page_with_the_reason(http: httpx.Client) -> None:
    """A client_id the sandbox's app does not have is refused before anything is offered."""
    page = http.get("/admin/oauth/authorize", params=authorize_query(client_id="stranger"))

    assert page.status_code == 400
    assert "Unknown client_id" in page.text
    assert "Install</button>" not in page.text


@pytest.mark.usefixtures("store")
def test_a_redirect_uri_outside_the_allowed_list_is_refused(
    http: httpx.Client, sandbox: ShopifySandbox
) -> None:
    """Once allowed redirection URLs are set, any other redirect_uri gets a 400 page."""
    sandbox.configure_app(redirect_urls=["https://bridge.example/elsewhere"])

    page = http.get("/admin/oauth/authorize", params=authorize_query())
    posted = http.post("/admin/oauth/authorize", data=authorize_query())

    assert page.status_code == posted.status_code == 400
    assert "not an allowed redirection URL" in page.text


@pytest.mark.usefixtures("store")
def test_online_access_is_not_offered(http: httpx.Client) -> None:
    """grant_options[]=per-user (online tokens) is refused rather than answered offline."""
    page = http.get(
        "/admin/oauth/authorize", params=authorize_query(**{"grant_options[]": "per-user"})
    )

    assert page.status_code == 400
    assert "per-user" in page.text


@pytest.mark.usefixtures("store")
def test_with_several_shops_the_host_header_picks_one_or_the_page_asks(
    http: httpx.Client, sandbox: ShopifySandbox
) -> None:
    """<name>.myshopify.com in Host names the shop; without it the page offers a shop select."""
    sandbox.add_shop("second")

    by_host = http.get(
        "/admin/oauth/authorize", params=authorize_query(), headers={"Host": "second.myshopify.com"}
    )
    unnamed = http.get("/admin/oauth/authorize", params=authorize_query())

    assert "wants to access second.myshopify.com" in by_host.text
    assert '<select name="shop">' not in by_host.text
    assert '<select name="shop">' in unnamed.text
    assert '<option value="second">second.myshopify.com</option>' in unnamed.text


def test_a_page_without_any_shop_says_so(http: httpx.Client) -> None:
    """An empty sandbox has nothing to install on: 400 with the reason."""
    page = http.get("/admin/oauth/authorize", params=authorize_query())

    assert page.status_code == 400
    assert "no shop" in page.text


# --- Install: the signed callback ----------------------------------------------------------


@pytest.mark.usefixtures("store")
def test_install_redirects_to_the_callback_with_a_signed_code(
    http: httpx.Client, clock: ManualClock
) -> None:
    """The callback carries code, host, shop, state and timestamp, signed as §1.2 step 1 says."""
    callback = install(http)

    assert set(callback) == {"code", "hmac", "host", "shop", "state", "timestamp"}
    assert callback["hmac"] == spec_hmac(callback, DEFAULT_CLIENT_SECRET)
    assert callback["shop"] == "demo.myshopify.com"
    assert callback["state"] == "nonce-123"
    assert callback["timestamp"] == str(int(clock.now().timestamp()))
    host = base64.urlsafe_b64decode(callback["host"] + "=" * (-len(callback["host"]) % 4))
    assert host == b"admin.shopify.com/store/demo"


@pytest.mark.usefixtures("store")
def test_the_shop_chosen_in_the_form_is_the_one_installed(
    http: httpx.Client, sandbox: ShopifySandbox
) -> None:
    """With several shops, the form's `shop` field decides, and its token acts for that shop."""
    sandbox.add_shop("second")

    callback = install(http, shop="second")
    tokens = grant(http, code=callback["code"])

    assert callback["shop"] == "second.myshopify.com"
    assert shop_seen_by(http, tokens["access_token"]) == "second"


# --- the authorization-code grant ------------------------------------------------------------


@pytest.mark.usefixtures("store")
def test_a_code_becomes_an_expiring_token_pair(http: httpx.Client) -> None:
    """expiring=1 answers an access token for an hour and a refresh token, both working."""
    tokens = expiring_pair(http)

    assert set(tokens) == {
        "access_token",
        "scope",
        "expires_in",
        "refresh_token",
        "refresh_token_expires_in",
    }
    assert tokens["access_token"].startswith("shpat_")
    assert tokens["refresh_token"].startswith("shprt_")
    assert (tokens["scope"], tokens["expires_in"]) == (SCOPES, 3600)
    assert tokens["refresh_token_expires_in"] == 90 * 86400
    assert shop_seen_by(http, tokens["access_token"]) == "demo"


@pytest.mark.usefixtures("store")
def test_a_code_without_expiring_gives_a_token_that_never_expires(
    http: httpx.Client, clock: ManualClock
) -> None:
    """A form-encoded exchange without `expiring` answers only access_token and scope."""
    code = install(http)["code"]
    form = {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET, "code": code}

    answer = http.post("/admin/oauth/access_token", data=form)
    clock.advance(400 * 86400)

    assert answer.status_code == 200
    assert set(answer.json()) == {"access_token", "scope"}
    assert shop_seen_by(http, answer.json()["access_token"]) == "demo"


@pytest.mark.usefixtures("store")
def test_a_code_is_used_once(http: httpx.Client) -> None:
    """The second exchange of the same code is HTTP 400 invalid_request."""
    code = install(http)["code"]
    grant(http, code=code)

    refused = grant(http, status=400, code=code)

    assert refused == {
        "error": "invalid_request",
        "error_description": "The authorization code was not found or was already used",
    }


@pytest.mark.usefixtures("store")
def test_a_code_lasts_ten_minutes(http: httpx.Client, clock: ManualClock) -> None:
    """A code exchanged 10 minutes after Install is refused like a spent one."""
    code = install(http)["code"]
    clock.advance(600)

    assert grant(http, status=400, code=code)["error"] == "invalid_request"


@pytest.mark.usefixtures("store")
def test_wrong_client_credentials_are_invalid_client(http: httpx.Client) -> None:
    """A wrong client secret is refused with invalid_client, and the code stays unspent."""
    code = install(http)["code"]

    refused = grant(http, status=400, code=code, client_secret="not-the-secret")

    assert refused["error"] == "invalid_client"
    assert "access_token" in grant(http, code=code)


# --- expiry and refresh ----------------------------------------------------------------------


@pytest.mark.usefixtures("store")
def test_an_expiring_token_answers_401_after_its_lifetime(
    http: httpx.Client, clock: ManualClock
) -> None:
    """One second before expires_in the token works; at expires_in it gets the 401 body."""
    tokens = expiring_pair(http)

    clock.advance(3599)
    assert shop_seen_by(http, tokens["access_token"]) == "demo"
    clock.advance(1)
    assert shop_seen_by(http, tokens["access_token"]) is None


@pytest.mark.usefixtures("store")
def test_refresh_rotates_and_the_spent_token_lives_until_its_replacement_is_used(
    http: httpx.Client,
) -> None:
    """A lost refresh answer can be retried with the same refresh token; once a new access
    token is used on the Admin API, the spent refresh token is refused with invalid_grant."""
    first = expiring_pair(http)

    lost = grant(http, grant_type="refresh_token", refresh_token=first["refresh_token"])
    retried = grant(http, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert shop_seen_by(http, retried["access_token"]) == "demo"
    refused = grant(
        http, status=400, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )

    assert retried["refresh_token"] not in (first["refresh_token"], lost["refresh_token"])
    assert refused["error"] == "invalid_grant"
    assert retried["expires_in"] == 3600
    # The old access token lives until its own expiry; the new pair keeps rotating.
    assert shop_seen_by(http, first["access_token"]) == "demo"
    assert "access_token" in grant(
        http, grant_type="refresh_token", refresh_token=retried["refresh_token"]
    )


@pytest.mark.usefixtures("store")
def test_an_unknown_refresh_token_is_invalid_grant(http: httpx.Client) -> None:
    """A refresh token the sandbox never issued is refused with invalid_grant."""
    refused = grant(http, status=400, grant_type="refresh_token", refresh_token="shprt_nope")

    assert refused["error"] == "invalid_grant"


@pytest.mark.usefixtures("store")
def test_a_refresh_token_expires_after_its_lifetime(http: httpx.Client, clock: ManualClock) -> None:
    """At refresh_token_expires_in the refresh token is refused with invalid_grant."""
    tokens = expiring_pair(http)
    clock.advance(tokens["refresh_token_expires_in"])

    refused = grant(
        http, status=400, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )

    assert refused["error"] == "invalid_grant"


# --- client credentials ------------------------------------------------------------------------


@pytest.mark.usefixtures("store")
def test_client_credentials_give_a_day_token_for_the_shop_the_host_names(
    http: httpx.Client, sandbox: ShopifySandbox
) -> None:
    """grant_type=client_credentials to <name>.myshopify.com: a 86399 s token, no refresh token."""
    sandbox.add_shop("second")
    body = {
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "grant_type": "client_credentials",
    }

    answer = http.post(
        "/admin/oauth/access_token", data=body, headers={"Host": "second.myshopify.com"}
    )

    assert answer.status_code == 200
    tokens = answer.json()
    assert set(tokens) == {"access_token", "scope", "expires_in"}
    assert tokens["expires_in"] == 86399
    assert shop_seen_by(http, tokens["access_token"]) == "second"


@pytest.mark.usefixtures("store")
def test_client_credentials_without_a_host_need_a_shop_field_among_several(
    http: httpx.Client, sandbox: ShopifySandbox
) -> None:
    """With two shops and no Host, the request must name one in `shop`."""
    sandbox.add_shop("second")

    unnamed = grant(http, status=400, grant_type="client_credentials")
    named = grant(http, grant_type="client_credentials", shop="demo.myshopify.com")

    assert "say which one" in unnamed["error_description"]
    assert shop_seen_by(http, named["access_token"]) == "demo"


# --- uninstall and reinstall -------------------------------------------------------------------


async def test_uninstall_revokes_every_token_and_deletes_the_subscriptions(
    http: httpx.Client, sandbox: ShopifySandbox, store: StoreCredentials, sink: WebhookSink
) -> None:
    """After uninstall: static, issued and refresh tokens all refused at once, app/uninstalled
    delivered to the subscriber, and no subscription left."""
    tokens = expiring_pair(http)
    sandbox.subscribe_webhook(store.name, "app/uninstalled", sink.url)
    sandbox.subscribe_webhook(store.name, "orders/create", sink.url)

    sandbox.uninstall_app(store.name)
    await sandbox.tick()

    assert shop_seen_by(http, store.access_token) is None
    assert shop_seen_by(http, tokens["access_token"]) is None
    refused = grant(
        http, status=400, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert refused["error"] == "invalid_grant"
    assert len(sink.topic("app/uninstalled")) == 1
    assert sandbox.webhook_subscriptions(store.name) == []


def test_installing_again_after_uninstall_gives_working_tokens(
    http: httpx.Client, sandbox: ShopifySandbox, store: StoreCredentials
) -> None:
    """Re-authorizing installs the app again; the old tokens stay dead."""
    old = expiring_pair(http)
    sandbox.uninstall_app(store.name)

    fresh = expiring_pair(http)

    assert shop_seen_by(http, fresh["access_token"]) == "demo"
    assert shop_seen_by(http, old["access_token"]) is None


# --- install request, app settings, stable credentials ---------------------------------------


@pytest.mark.usefixtures("store")
def test_the_install_request_url_is_signed_like_shopifys(
    http: httpx.Client, sandbox: ShopifySandbox, clock: ManualClock
) -> None:
    """The control route and the Python helper build app_url?hmac&host&shop&timestamp, signed."""
    answer = http.post(
        "/_sandbox/shops/demo/install-request", json={"app_url": "https://bridge.example/app?x=1"}
    )
    url = answer.json()["url"]
    query = dict(parse_qsl(urlsplit(url).query))

    assert url.startswith("https://bridge.example/app?")
    assert set(query) == {"x", "hmac", "host", "shop", "timestamp"}
    assert query["hmac"] == spec_hmac(query, DEFAULT_CLIENT_SECRET)
    assert query["timestamp"] == str(int(clock.now().timestamp()))
    assert sandbox.install_request_url("https://bridge.example/app?x=1", "demo") == url


@pytest.mark.usefixtures("store")
def test_token_lifetimes_are_set_over_the_control_api(http: httpx.Client) -> None:
    """POST /_sandbox/app shortens lifetimes for tokens issued afterwards; bad keys are a 400."""
    settings = http.post(
        "/_sandbox/app",
        json={
            "access_token_lifetime": 5,
            "refresh_token_lifetime": 60,
            "redirect_urls": [CALLBACK],
        },
    ).json()
    refused = http.post("/_sandbox/app", json={"client_secret": "x"})

    tokens = expiring_pair(http)

    assert settings["client_id"] == DEFAULT_CLIENT_ID
    assert (settings["access_token_lifetime"], settings["redirect_urls"]) == (5, [CALLBACK])
    assert (tokens["expires_in"], tokens["refresh_token_expires_in"]) == (5, 60)
    assert refused.status_code == 400
    assert http.get("/_sandbox/app").json() == settings


def test_the_demo_credentials_and_catalogue_are_the_same_on_every_start() -> None:
    """Two demo sandboxes print the same client credentials, static token and catalogue ids."""
    first, second = demo_sandbox(ManualClock()), demo_sandbox(ManualClock())

    assert first.credentials("demo") == second.credentials("demo")
    assert first.app_settings() == second.app_settings()
    assert first.credentials("demo").access_token.startswith("shpat_")
    assert first.credentials("demo").client_secret == DEFAULT_CLIENT_SECRET
    assert catalogue(first) == catalogue(second)
    assert {sku for _, sku, _ in catalogue(first)} == {
        v.sku for variants in DEMO_PRODUCTS.values() for v in variants
    }


def catalogue(sandbox: ShopifySandbox) -> list[tuple[str, str, str]]:
    return [(v.gid, v.sku, str(v.price)) for v in sandbox.world.shop("demo").variants()]
