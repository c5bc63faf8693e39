"""Server-side sessions: logout, password change and timeouts end them; HTTPS hardening."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa

from shopbridge.clock import ManualClock
from shopbridge.config import Settings
from shopbridge.store import Store
from shopbridge.store.tables import sessions
from shopbridge.web.accounts import User
from shopbridge_sandbox.serving import BackgroundServer
from support.world import World

from .conftest import PASSWORD, csrf_of, login, post

NEW_PASSWORD = "plum rocket fjord lantern"


@pytest.fixture
def other_browser(client: httpx.Client) -> Iterator[httpx.Client]:
    """A second browser on the same app, with its own cookies."""
    with httpx.Client(base_url=str(client.base_url), follow_redirects=True) as browser:
        yield browser


def orders_of(world: World) -> str:
    return f"/connections/{world.connection_id}/orders"


def signed_in(browser: httpx.Client, world: World) -> bool:
    response = browser.get(orders_of(world), follow_redirects=False)
    if response.status_code == 200:
        return True
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    return False


def cookie_payload(value: str) -> dict[str, object]:
    """What Starlette's signed cookie carries: base64 JSON, then timestamp and signature."""
    data = value.split(".")[0]
    decoded: dict[str, object] = json.loads(base64.b64decode(data + "=" * (-len(data) % 4)))
    return decoded


def session_rows(store: Store) -> list[sa.Row[tuple[str, int]]]:
    with store.engine.connect() as db:
        return list(db.execute(sa.select(sessions.c.token_hash, sessions.c.user_id)).all())


def test_the_cookie_carries_only_a_session_id_kept_hashed(
    client: httpx.Client, merchant: User, world: World, store: Store
) -> None:
    """After login the cookie holds a random session id and no user id; the server keeps only
    the id's SHA-256."""
    login(client, merchant.email)
    payload = cookie_payload(client.cookies["shopbridge_session"])
    assert set(payload) == {"sid"}
    sid = payload["sid"]
    assert isinstance(sid, str)
    assert len(sid) >= 40
    rows = session_rows(store)
    assert [(row.token_hash, row.user_id) for row in rows] == [
        (hashlib.sha256(sid.encode()).hexdigest(), merchant.id)
    ]


def test_a_logged_out_cookie_is_refused_on_get_and_post(
    client: httpx.Client, merchant: User, world: World, store: Store
) -> None:
    """Logout deletes the session on the server: the old cookie, replayed with the old CSRF
    token, opens no page and changes nothing."""
    login(client, merchant.email)
    settings_page = f"/connections/{world.connection_id}/settings"
    old_cookie = client.cookies["shopbridge_session"]
    old_token = csrf_of(client.get(settings_page).text)
    assert post(client, "/logout", settings_page).status_code == 303
    assert session_rows(store) == []
    replayed = {"cookie": f"shopbridge_session={old_cookie}"}
    with httpx.Client(base_url=str(client.base_url), headers=replayed) as attacker:
        page = attacker.get(settings_page)
        assert page.status_code == 303
        assert page.headers["location"].startswith("/login")
        change = attacker.post(
            f"{settings_page}/holdback",
            data={"csrf_token": old_token, "holdback_minutes": "90"},
        )
        assert change.status_code == 303
        assert change.headers["location"].startswith("/login")
        again = attacker.post("/logout", data={"csrf_token": old_token})
        assert again.status_code == 303
        assert again.headers["location"] == "/login"
    assert store.get_connection(world.connection_id).holdback_minutes == 60


def test_a_password_change_ends_other_sessions_but_keeps_this_one(
    client: httpx.Client, other_browser: httpx.Client, merchant: User, world: World
) -> None:
    """Changing the password signs out every other browser of the user; this one stays in,
    and only the new password logs in."""
    login(client, merchant.email)
    login(other_browser, merchant.email)
    assert "signed in on 1 other browser" in client.get("/account").text
    response = post(
        client,
        "/account/password",
        "/account",
        current_password=PASSWORD,
        new_password=NEW_PASSWORD,
        new_password_again=NEW_PASSWORD,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    assert (
        "Your password is changed. 1 other session was signed out." in client.get("/account").text
    )
    assert signed_in(client, world)
    assert not signed_in(other_browser, world)
    token = csrf_of(other_browser.get("/login").text)
    old = other_browser.post(
        "/login", data={"email": merchant.email, "password": PASSWORD, "csrf_token": token}
    )
    assert old.status_code == 401
    login(other_browser, merchant.email, NEW_PASSWORD)
    assert signed_in(other_browser, world)


def test_a_wrong_current_password_changes_nothing(
    client: httpx.Client, other_browser: httpx.Client, merchant: User, world: World
) -> None:
    """Without the right current password the password stays, and so do the other sessions."""
    login(client, merchant.email)
    login(other_browser, merchant.email)
    response = post(
        client,
        "/account/password",
        "/account",
        current_password="not my password at all",
        new_password=NEW_PASSWORD,
        new_password_again=NEW_PASSWORD,
    )
    assert response.status_code == 400
    assert "Not changed: the current password is not right." in response.text
    assert signed_in(other_browser, world)
    login(other_browser, merchant.email, PASSWORD)


def test_an_idle_session_is_refused(
    client: httpx.Client, merchant: User, world: World, manual_clock: ManualClock, store: Store
) -> None:
    """A session used within 120 minutes stays open; one left idle for 120 minutes ends, and
    its row is deleted."""
    login(client, merchant.email)
    for _ in range(3):
        manual_clock.advance(timedelta(minutes=119))
        assert signed_in(client, world)
    manual_clock.advance(timedelta(minutes=120))
    assert not signed_in(client, world)
    assert session_rows(store) == []


def test_a_session_past_its_lifetime_is_refused(
    client: httpx.Client, merchant: User, world: World, manual_clock: ManualClock
) -> None:
    """Even in constant use a session ends 12 hours after its login."""
    login(client, merchant.email)
    for _ in range(7):
        manual_clock.advance(timedelta(minutes=100))
        assert signed_in(client, world)
    manual_clock.advance(timedelta(minutes=20))  # 12 h since login
    assert not signed_in(client, world)
    login(client, merchant.email)
    assert signed_in(client, world)


def test_session_timeouts_come_from_the_settings(
    world: World, merchant: User, manual_clock: ManualClock
) -> None:
    """session_idle_minutes and session_max_hours set when sessions end."""
    settings = Settings(session_idle_minutes=10, session_max_hours=1)
    service = dataclasses.replace(world.service, settings=settings)
    with (
        BackgroundServer(service.web(secret_key="k")) as server,
        httpx.Client(base_url=server.base_url, follow_redirects=True) as browser,
    ):
        login(browser, merchant.email)
        manual_clock.advance(timedelta(minutes=9))
        assert signed_in(browser, world)
        manual_clock.advance(timedelta(minutes=10))
        assert not signed_in(browser, world)
        login(browser, merchant.email)
        for _ in range(6):
            manual_clock.advance(timedelta(minutes=9))
            assert signed_in(browser, world)
        manual_clock.advance(timedelta(minutes=6))  # 60 min since this login
        assert not signed_in(browser, world)


@pytest.mark.parametrize("public_url", ["https://bridge.example.com", "http://127.0.0.1:8000"])
def test_secure_cookies_and_hsts_follow_an_https_public_url(world: World, public_url: str) -> None:
    """With an https public_url, cookies are Secure and every response (pages, health,
    webhooks) carries HSTS; with an http one, neither."""
    service = dataclasses.replace(world.service, settings=Settings(public_url=public_url))
    secure = public_url.startswith("https://")
    with (
        BackgroundServer(service.web(secret_key="k")) as server,
        httpx.Client(base_url=server.base_url) as browser,
    ):
        page = browser.get("/login")
        cookie = page.headers["set-cookie"].lower()
        assert cookie.startswith("shopbridge_session=")
        assert ("; secure" in cookie) is secure
        for response in (page, browser.get("/healthz"), browser.post("/webhooks/tiktok")):
            hsts = response.headers.get("strict-transport-security")
            assert hsts == ("max-age=31536000" if secure else None), response.url
