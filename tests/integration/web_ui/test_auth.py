"""Login, logout, sessions and CSRF on the merchant pages."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from shopbridge.clock import ManualClock
from shopbridge.store import Store
from shopbridge.store.tables import users
from shopbridge.web import accounts
from shopbridge.web.accounts import User, create_user
from support.world import World

from .conftest import PASSWORD, Shop, csrf_of, login, post


def test_pages_redirect_to_login_when_signed_out(client: httpx.Client, world: World) -> None:
    """A signed-out visitor asking for the orders page is sent to the login page, and back."""
    response = client.get(f"/connections/{world.connection_id}/orders", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == (
        f"/login?next=%2Fconnections%2F{world.connection_id}%2Forders"
    )


def test_login_page_has_the_form_fields(client: httpx.Client) -> None:
    """The login page offers email and password fields and a CSRF token."""
    html = client.get("/login").text
    assert 'name="email"' in html
    assert 'name="password"' in html
    assert csrf_of(html)


def test_login_with_the_right_password_lands_on_the_orders(
    client: httpx.Client, merchant: User, world: World
) -> None:
    """A correct email and password sign in; a user with one shop lands on its orders."""
    login(client, merchant.email)
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/connections/{world.connection_id}/orders"
    assert "ann@example.com" in client.get(response.headers["location"]).text


def test_login_failure_says_so_and_signs_nobody_in(client: httpx.Client, merchant: User) -> None:
    """A wrong password gets 401 with a plain message, and the pages stay closed."""
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"email": merchant.email, "password": "wrong password", "csrf_token": token},
    )
    assert response.status_code == 401
    assert "Wrong email or password." in response.text
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")


def test_login_for_an_unknown_email_fails_the_same_way(client: httpx.Client, world: World) -> None:
    """An email nobody has gets the same answer as a wrong password."""
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"email": "nobody@example.com", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 401
    assert "Wrong email or password." in response.text


def test_login_without_csrf_token_is_forbidden(client: httpx.Client, merchant: User) -> None:
    """A login POST without the session's CSRF token is refused with 403."""
    client.get("/login")
    response = client.post("/login", data={"email": merchant.email, "password": PASSWORD})
    assert response.status_code == 403


def test_login_never_redirects_off_site(client: httpx.Client, merchant: User) -> None:
    """A `next` pointing at another host is ignored after login (no open redirect)."""
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={
            "email": merchant.email,
            "password": PASSWORD,
            "csrf_token": token,
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_session_cookie_is_httponly_samesite_lax_and_signed(
    client: httpx.Client, merchant: User
) -> None:
    """The session cookie is HttpOnly and SameSite=Lax, and a tampered one is not accepted."""
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"email": merchant.email, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith("shopbridge_session=")
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    value = client.cookies["shopbridge_session"]
    assert client.get("/", follow_redirects=False).headers["location"].endswith("/orders")
    # Change a character well inside the signature: the last ones of a base64 signature carry
    # padding bits, so changing only those could (rarely) leave the signature intact.
    spot = len(value) - 10
    changed = "A" if value[spot] != "A" else "B"
    forged = {"cookie": f"shopbridge_session={value[:spot]}{changed}{value[spot + 1 :]}"}
    with httpx.Client(base_url=str(client.base_url)) as stranger:
        response = stranger.get("/", headers=forged)
    assert response.headers["location"].startswith("/login")


def test_logout_ends_the_session(client: httpx.Client, merchant: User, world: World) -> None:
    """After logout the orders page asks for a login again."""
    login(client, merchant.email)
    orders = f"/connections/{world.connection_id}/orders"
    response = post(client, "/logout", orders)
    assert response.status_code == 303
    assert client.get(orders, follow_redirects=False).headers["location"].startswith("/login")


def test_logout_without_csrf_token_is_forbidden(
    client: httpx.Client, merchant: User, world: World
) -> None:
    """A cross-site POST to /logout (no token) is refused and the user stays signed in."""
    login(client, merchant.email)
    assert client.post("/logout").status_code == 403
    orders = f"/connections/{world.connection_id}/orders"
    assert client.get(orders, follow_redirects=False).status_code == 200


def test_another_users_connection_is_not_found(
    client: httpx.Client, store: Store, world: World, shop: Shop
) -> None:
    """A user who does not belong to a connection gets 404 for its pages and orders."""
    shop.paid("576486316948490001")
    other = store.add_connection(name="Other shop", timezone="UTC")
    create_user(store, "bob@example.com", PASSWORD, [other])
    login(client, "bob@example.com")
    cid = world.connection_id
    for path in (
        f"/connections/{cid}/orders",
        f"/connections/{cid}/orders/fragment",
        f"/connections/{cid}/orders/576486316948490001",
        f"/connections/{cid}/settings",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "576486316948490001" not in response.text


def test_another_users_order_actions_are_not_found(
    client: httpx.Client, store: Store, world: World, shop: Shop
) -> None:
    """Posting an answer on another user's order is 404, even with a valid CSRF token."""
    shop.paid("576486316948490001")
    other = store.add_connection(name="Other shop", timezone="UTC")
    create_user(store, "bob@example.com", PASSWORD, [other])
    login(client, "bob@example.com")
    own_page = f"/connections/{other}/settings"
    cid = world.connection_id
    base = f"/connections/{cid}/orders/576486316948490001"
    for path in (
        f"{base}/cancellation/approve",
        f"{base}/cancellation/reject",
        f"{base}/retry",
        f"/connections/{cid}/settings/holdback",
        f"/connections/{cid}/settings/carriers",
    ):
        response = post(client, path, own_page, cancel_id="1", kind="x", holdback_minutes="90")
        assert response.status_code == 404, path
    assert store.get_connection(cid).holdback_minutes == 60


def test_user_with_several_shops_picks_one(
    client: httpx.Client, store: Store, world: World
) -> None:
    """A user who belongs to two connections sees both on the home page, and no other."""
    second = store.add_connection(name="Second shop", timezone="UTC")
    store.add_connection(name="Not mine", timezone="UTC")
    create_user(store, "cat@example.com", PASSWORD, [world.connection_id, second])
    login(client, "cat@example.com")
    html = client.get("/").text
    assert "Demo" in html
    assert "Second shop" in html
    assert "Not mine" not in html


def test_user_without_shops_sees_an_empty_state(client: httpx.Client, store: Store) -> None:
    """A user linked to no connection is told how to get one."""
    create_user(store, "dan@example.com", PASSWORD)
    login(client, "dan@example.com")
    html = client.get("/").text
    assert "No shop is linked to your account yet." in html


def test_passwords_are_stored_as_argon2id_hashes(store: Store, merchant: User) -> None:
    """The users table holds an argon2id hash, never the password."""
    with store.engine.connect() as db:
        stored = db.execute(
            sa.select(users.c.password_hash).where(users.c.id == merchant.id)
        ).scalar_one()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_login_rehashes_a_password_made_with_older_parameters(
    store: Store, merchant: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the hashing cost is raised, the next successful login stores a hash at the new cost."""
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    monkeypatch.setattr(accounts, "PASSWORD_HASHER", stronger)
    assert accounts.authenticate(store, merchant.email, PASSWORD) == merchant
    with store.engine.connect() as db:
        stored = db.execute(
            sa.select(users.c.password_hash).where(users.c.id == merchant.id)
        ).scalar_one()
    assert not stronger.check_needs_rehash(stored)


def test_pages_refuse_framing_and_foreign_scripts(client: httpx.Client) -> None:
    """Pages may not be framed (no clickjacked Approve) and load scripts from this site only."""
    response = client.get("/login")
    assert response.headers["x-frame-options"] == "DENY"
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src 'self'" in policy
    assert '<script src="/static/vendor/htmx-2.0.11.min.js"' in response.text
    htmx = client.get("/static/vendor/htmx-2.0.11.min.js")
    assert htmx.status_code == 200
    assert "htmx" in htmx.text[:2000]


def test_repeated_failed_logins_are_throttled_then_allowed_again(
    client: httpx.Client, merchant: User, manual_clock: ManualClock
) -> None:
    """After 5 wrong passwords for one email from one address, even the right one from there
    waits until the window passes, and is told how long in words."""
    for _ in range(5):
        token = csrf_of(client.get("/login").text)
        client.post(
            "/login", data={"email": merchant.email, "password": "guess", "csrf_token": token}
        )
    token = csrf_of(client.get("/login").text)
    right = {"email": merchant.email, "password": PASSWORD, "csrf_token": token}
    refused = client.post("/login", data=right)
    assert refused.status_code == 429
    assert (
        "Too many wrong passwords for this email from your network: try again in 15 minutes."
        in refused.text
    )
    assert int(refused.headers["retry-after"]) == 15 * 60
    manual_clock.advance(timedelta(minutes=15))
    login(client, merchant.email)
