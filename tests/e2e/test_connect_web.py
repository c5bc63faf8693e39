"""Connecting real shops from the web UI, against both sandboxes over loopback: a fresh database,
a new connection, "Connect Shopify" (install approval, signed callback, expiring token) and
"Connect TikTok Shop" (seller authorization, code exchange), then webhooks registered by
shopbridge itself and an order held in Shopify. Refusals (tampered HMAC, replayed state) are
pages that say what to do, with nothing saved."""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

import httpx
import pytest

from shopbridge.bootstrap import bootstrap
from shopbridge.clock import SystemClock
from shopbridge.config import Settings
from shopbridge.engine.subscriptions import SHOPIFY_TOPICS, TIKTOK_EVENTS
from shopbridge.store import SecretBox, Store
from shopbridge.web.accounts import create_user
from shopbridge_sandbox.serving import BackgroundServer
from support.connect_stack import ConnectStack, connect_stack

EMAIL, PASSWORD = "owner@example.com", "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ONWARD = re.compile(r'<meta http-equiv="refresh" content="0;url=([^"]+)">')


class _Form(HTMLParser):
    """The first form of a page: its action and fields (checked boxes and hidden inputs)."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and not self.action:
            self.action = a.get("action", "")
        kind = a.get("type")
        if tag == "input" and a.get("name") and (kind == "hidden" or "checked" in a):
            self.fields.append((a["name"], a.get("value", "")))


def form_of(html: str) -> _Form:
    form = _Form()
    form.feed(html)
    return form


@dataclass
class Setup(ConnectStack):
    client: httpx.Client = None  # type: ignore[assignment]


@pytest.fixture
def setup(db_url: str, secret_box: SecretBox) -> Iterator[Setup]:
    with connect_stack(db_url, secret_box) as stack:
        create_user(stack.service.store, EMAIL, PASSWORD)
        client = httpx.Client(base_url=stack.app_url, timeout=20.0, follow_redirects=True)
        try:
            token = CSRF.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
            client.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token})
            yield Setup(**vars(stack), client=client)
        finally:
            client.close()


def _post(setup: Setup, path: str, **data: str) -> httpx.Response:
    page = setup.client.get(
        path if not path.endswith(("/shopify", "/tiktok")) else path.rsplit("/", 1)[0]
    )
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    return setup.client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def _new_connection(setup: Setup) -> int:
    response = _post(setup, "/connections/new", name="Demo")
    assert response.status_code == 303
    return int(response.headers["location"].split("/")[2])


def _approve_on_shopify(setup: Setup, connection_id: int) -> str:
    """Press Connect Shopify, then Install on Shopify's page: the callback address it sends to."""
    started = _post(setup, f"/connections/{connection_id}/connect/shopify", shop="demo")
    authorize = _onward(started)
    assert authorize.startswith(setup.shopify_url + "/admin/oauth/authorize?")
    page = httpx.get(authorize)
    form = form_of(page.text)
    answer = _submit(setup.shopify_url + form.action, form.fields)
    assert answer.status_code == 302
    return answer.headers["location"]


def _authorize_on_tiktok(setup: Setup, connection_id: int) -> str:
    started = _post(setup, f"/connections/{connection_id}/connect/tiktok")
    authorize = _onward(started)
    assert authorize.startswith(setup.tiktok_url + "/open/authorize?")
    form = form_of(httpx.get(authorize).text)
    answer = _submit(setup.tiktok_url + form.action, [*form.fields, ("decision", "authorize")])
    assert answer.status_code == 302
    return answer.headers["location"]


def _onward(page: httpx.Response) -> str:
    """Where the "On to the platform" page sends the browser (a page, not a redirect: the
    Content-Security-Policy keeps form posts on this site)."""
    assert page.status_code == 200
    found = ONWARD.search(page.text)
    assert found, "the page links on to the platform"
    return html.unescape(found.group(1))


def _submit(url: str, fields: list[tuple[str, str]]) -> httpx.Response:
    """A browser's form post (repeated fields kept)."""
    form = {"content-type": "application/x-www-form-urlencoded"}
    return httpx.post(url, content=urlencode(fields), headers=form)


def _local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_both_shops_connected_from_the_web_ui_then_an_order_is_held(setup: Setup) -> None:
    store: Store = setup.service.store
    connection_id = _new_connection(setup)
    assert store.get_connection(connection_id).status == "setting_up"

    callback = _approve_on_shopify(setup, connection_id)
    assert callback.startswith(setup.app_url + "/shopify/callback?")
    done = setup.client.get(_local(callback))
    assert "Shopify store demo.myshopify.com connected" in done.text
    connection = store.get_connection(connection_id)
    assert connection.shopify_auth == "authorization_code"
    tokens = store.tokens(connection_id, "shopify")
    assert tokens is not None and tokens.refresh_token and tokens.expires_at is not None
    assert connection.status == "setting_up", "TikTok is not connected yet"

    callback = _authorize_on_tiktok(setup, connection_id)
    done = setup.client.get(_local(callback))
    assert "Both platforms are connected" in done.text
    connection = store.get_connection(connection_id)
    assert connection.status == "active" and connection.tiktok_shop_cipher

    # Webhooks wired by shopbridge itself, on both platforms, at its public address.
    subscriptions = setup.shopify.webhook_subscriptions("demo")
    assert {s["uri"] for s in subscriptions} == {setup.app_url + "/webhooks/shopify"}
    assert {s["topic"] for s in subscriptions} >= {"ORDERS_CANCELLED", "APP_UNINSTALLED"}
    settings_page = setup.client.get(f"/connections/{connection_id}/settings").text
    assert settings_page.count('data-testid="webhook-row"') == len(SHOPIFY_TOPICS) + len(
        TIKTOK_EVENTS
    )
    assert "not checked yet" not in settings_page

    # An order placed on TikTok is held in Shopify, carried by the webhooks just registered
    # (a worker process of its own, as `shopbridge worker` would be).
    shop_id = connection.tiktok_shop_id
    assert shop_id is not None

    async def until_held() -> float:
        service = bootstrap(
            setup.service.settings, clock=SystemClock(), secret_box=setup.secret_box
        )
        worker = service.worker(reconcile_every=None)
        order_id = setup.tiktok.create_order(shop_id, {"TEE-RED-L": 1})
        placed = time.monotonic()
        try:
            for _ in range(200):
                await worker.run_until_idle()
                row = store.get_mirror(connection_id, order_id)
                if row is not None and row.phase == "held":
                    return time.monotonic() - placed
                await asyncio.sleep(0.05)
        finally:
            await service.aclose()
        raise AssertionError("the order was never held")

    held_after = asyncio.run(until_held())
    print(f"order held in Shopify {held_after:.2f} s after it was placed on TikTok")


def test_a_tampered_or_replayed_shopify_callback_changes_nothing(setup: Setup) -> None:
    store: Store = setup.service.store
    connection_id = _new_connection(setup)
    callback = _approve_on_shopify(setup, connection_id)
    tampered = _local(callback).replace("shop=demo.myshopify.com", "shop=evil.myshopify.com")
    refused = setup.client.get(tampered)
    assert refused.status_code in (400, 401)
    assert "Traceback" not in refused.text
    assert store.get_connection(connection_id).shopify_domain is None

    callback = _approve_on_shopify(setup, connection_id)
    assert setup.client.get(_local(callback)).status_code == 200
    replayed = setup.client.get(_local(callback))
    assert replayed.status_code == 400
    assert "already used or expired" in replayed.text


def test_shopify_down_during_the_exchange_is_a_page_and_saves_nothing(setup: Setup) -> None:
    connection_id = _new_connection(setup)
    callback = _approve_on_shopify(setup, connection_id)
    setup.shopify_server.stop()
    answer = setup.client.get(_local(callback))
    assert answer.status_code == 400
    assert "could not be reached" in answer.text and "try again" in answer.text
    assert "Traceback" not in answer.text
    connection = setup.service.store.get_connection(connection_id)
    assert connection.shopify_domain is None and connection.status == "setting_up"


def test_a_shop_that_is_not_a_myshopify_host_is_refused(setup: Setup) -> None:
    connection_id = _new_connection(setup)
    refused = _post(setup, f"/connections/{connection_id}/connect/shopify", shop="evil.com/x")
    assert refused.status_code == 303
    page = setup.client.get(refused.headers["location"]).text
    assert "my-store.myshopify.com" in page


def _connect_both(setup: Setup) -> int:
    connection_id = _new_connection(setup)
    setup.client.get(_local(_approve_on_shopify(setup, connection_id)))
    setup.client.get(_local(_authorize_on_tiktok(setup, connection_id)))
    assert setup.service.store.get_connection(connection_id).status == "active"
    return connection_id


def test_tokens_expiring_mid_run_are_renewed_once_by_two_workers(setup: Setup) -> None:
    """Shopify tokens living 4 s, two workers, orders arriving all along: each refresh token is
    spent exactly once (never by both workers), and no order fails."""
    setup.shopify.configure_app(access_token_lifetime=4)
    # Enough in Shopify for every order: TikTok follows Shopify's count (less 2), not its own 25.
    setup.shopify.set_available("demo", "TEE-RED-L", 40)
    connection_id = _connect_both(setup)
    store = setup.service.store
    shop_id = store.get_connection(connection_id).tiktok_shop_id
    assert shop_id is not None
    placed: list[str] = []

    async def orders() -> None:
        for _ in range(12):
            placed.append(setup.tiktok.create_order(shop_id, {"TEE-RED-L": 1}))
            await asyncio.sleep(0.5)

    asyncio.run(setup.run_workers(2, seconds=3.0, act=orders))
    refreshes = setup.shopify.token_refreshes()
    assert refreshes, "tokens expired and were renewed during the run"
    assert set(refreshes.values()) == {1}, f"a refresh token was spent twice: {refreshes}"
    phases = {store.get_mirror(connection_id, o).phase for o in placed}  # type: ignore[union-attr]
    assert phases == {"held"}
    assert not store.list_mirrors(connection_id, needs_attention=True)


def test_uninstall_then_reconnect_completes_the_held_work(setup: Setup) -> None:
    connection_id = _connect_both(setup)
    store = setup.service.store
    shop_id = store.get_connection(connection_id).tiktok_shop_id
    assert shop_id is not None
    setup.shopify.uninstall_app("demo")
    order_id = setup.tiktok.create_order(shop_id, {"TEE-RED-L": 1})
    asyncio.run(setup.run_workers(1, seconds=2.0))
    connection = store.get_connection(connection_id)
    assert connection.status == "needs_reconnect"
    assert "Reconnect the store" in (connection.reconnect_reason or "")
    orders_page = setup.client.get(f"/connections/{connection_id}/orders").text
    assert 'data-testid="reconnect-banner"' in orders_page
    row = store.get_mirror(connection_id, order_id)
    assert row is None or row.phase == "new", "nothing reserved, nothing failed"

    setup.client.get(_local(_approve_on_shopify(setup, connection_id)))
    assert store.get_connection(connection_id).status == "active"
    asyncio.run(setup.run_workers(1, seconds=2.0))
    assert store.get_mirror(connection_id, order_id).phase == "held"  # type: ignore[union-attr]
    assert not store.list_mirrors(connection_id, needs_attention=True)


def test_deleted_subscriptions_are_recreated_by_the_next_pass(setup: Setup) -> None:
    from datetime import timedelta

    connection_id = _connect_both(setup)
    for subscription in setup.shopify.webhook_subscriptions("demo"):
        setup.shopify.delete_webhook_subscription("demo", subscription["id"])
    assert setup.shopify.webhook_subscriptions("demo") == []

    async def one_pass() -> None:
        service = bootstrap(
            setup.service.settings, clock=SystemClock(), secret_box=setup.secret_box
        )
        try:
            worker = service.worker(reconcile_every=timedelta(minutes=5))
            await worker.reconcile_due()
        finally:
            await service.aclose()

    setup.service.store.update_connection(connection_id, last_reconciled_at=None)
    asyncio.run(one_pass())
    uris = {s["uri"] for s in setup.shopify.webhook_subscriptions("demo")}
    assert uris == {setup.app_url + "/webhooks/shopify"}
    assert len(setup.shopify.webhook_subscriptions("demo")) == len(SHOPIFY_TOPICS)


def test_the_first_account_is_created_in_the_browser_with_the_printed_code(
    db_url: str, secret_box: SecretBox
) -> None:
    from shopbridge.web.setup import setup_code

    service = bootstrap(Settings(database_url=db_url), clock=SystemClock(), secret_box=secret_box)
    web = BackgroundServer(service.web(wake=lambda: None, secret_key="k")).start()
    try:
        with httpx.Client(base_url=web.base_url, follow_redirects=True) as client:
            assert 'data-testid="first-run"' in client.get("/login").text
            assert client.get("/setup?code=guess").status_code == 403
            page = client.get(f"/setup?code={setup_code('k')}")
            token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
            made = client.post(
                "/setup",
                data={
                    "csrf_token": token,
                    "code": setup_code("k"),
                    "email": EMAIL,
                    "password": "short",
                },
            )
            assert made.status_code == 400 and "at least 12" in made.text
            made = client.post(
                "/setup",
                data={
                    "csrf_token": token,
                    "code": setup_code("k"),
                    "email": EMAIL,
                    "password": PASSWORD,
                },
            )
            assert made.url.path == "/connections/new", "signed in, on to the first connection"
            again = client.get(f"/setup?code={setup_code('k')}")
            assert again.url.path != "/setup", "the setup page is gone once an account exists"
    finally:
        web.stop()
        service.store.engine.dispose()


def test_an_own_organization_app_connects_without_an_approval_page(
    db_url: str, secret_box: SecretBox
) -> None:
    with connect_stack(db_url, secret_box, shopify_grant="client_credentials") as stack:
        create_user(stack.service.store, EMAIL, PASSWORD)
        with httpx.Client(base_url=stack.app_url, follow_redirects=True) as client:
            setup = Setup(**vars(stack), client=client)
            token = CSRF.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
            client.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token})
            connection_id = _new_connection(setup)
            done = _post(setup, f"/connections/{connection_id}/connect/shopify", shop="demo")
            assert done.status_code == 303, "no page on Shopify: the token is asked for directly"
            assert (
                "Shopify store demo.myshopify.com connected"
                in client.get(done.headers["location"]).text
            )
            connection = stack.service.store.get_connection(connection_id)
            assert connection.shopify_auth == "client_credentials"
