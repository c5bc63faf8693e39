"""Every password set through the web is at least 12 characters and not a common one."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from shopbridge.store import Store
from shopbridge.web import accounts
from shopbridge.web.accounts import User
from support.world import World

from .conftest import PASSWORD, csrf_of, login, post

WEAK = [
    ("eleven char", "the password must have at least 12 characters"),
    ("password1234", "this password is one of the most common ones"),
    ("QWERTY123456", "this password is one of the most common ones"),
]


@pytest.mark.parametrize(("password", "why"), WEAK)
def test_setup_refuses_a_short_or_common_first_password(
    client: httpx.Client, app: Starlette, store: Store, world: World, password: str, why: str
) -> None:
    """The first account's page refuses a weak password, says why, and creates nobody."""
    code = app.state.ui.setup_code
    page = client.get(f"/setup?code={code}")
    assert "At least 12 characters" in page.text
    form = {"csrf_token": csrf_of(page.text), "code": code, "email": "owner@example.com"}
    refused = client.post("/setup", data={**form, "password": password})
    assert refused.status_code == 400
    assert why in refused.text
    assert not accounts.has_users(store)
    created = client.post(
        "/setup", data={**form, "password": "plum rocket fjord lantern"}, follow_redirects=False
    )
    assert created.status_code == 303
    assert created.headers["location"] == "/connections/new"


@pytest.mark.parametrize(("password", "why"), WEAK)
def test_a_password_change_refuses_a_short_or_common_password(
    client: httpx.Client, merchant: User, store: Store, password: str, why: str
) -> None:
    """The account page refuses a weak new password, says why, and keeps the old one."""
    login(client, merchant.email)
    refused = post(
        client,
        "/account/password",
        "/account",
        current_password=PASSWORD,
        new_password=password,
        new_password_again=password,
    )
    assert refused.status_code == 400
    assert f"Not changed: {why}" in refused.text
    assert accounts.authenticate(store, merchant.email, PASSWORD) == merchant


def test_a_password_change_needs_the_same_new_password_twice(
    client: httpx.Client, merchant: User
) -> None:
    """Two different new passwords change nothing (a typo would lock the merchant out)."""
    login(client, merchant.email)
    refused = post(
        client,
        "/account/password",
        "/account",
        current_password=PASSWORD,
        new_password="plum rocket fjord lantern",
        new_password_again="plum rocket fjord lanterm",
    )
    assert refused.status_code == 400
    assert "The two new passwords differ" in refused.text
