"""Login throttling per (email, address) and per address, shared through the database, that
never keeps the merchant out from their own address."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx

from shopbridge.clock import ManualClock
from shopbridge.store import Store
from shopbridge.web.accounts import User
from shopbridge.web.throttle import LoginThrottle

from .conftest import PASSWORD, csrf_of

ATTACKER = "203.0.113.7"
MERCHANT_HOME = "198.51.100.20"


def try_login(client: httpx.Client, email: str, password: str, address: str) -> httpx.Response:
    """A login from `address` (uvicorn trusts X-Forwarded-For from the loopback proxy)."""
    via = {"x-forwarded-for": address}
    token = csrf_of(client.get("/login", headers=via).text)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        headers=via,
        follow_redirects=False,
    )


def test_wrong_passwords_from_one_address_never_stop_the_right_one_from_another(
    client: httpx.Client, merchant: User
) -> None:
    """20 wrong passwords for the merchant's email from one address: that address is refused
    after 5, and the merchant still logs in at once from their own."""
    answers = [try_login(client, merchant.email, "guess", ATTACKER).status_code for _ in range(20)]
    assert answers == [401] * 5 + [429] * 15
    assert try_login(client, merchant.email, PASSWORD, MERCHANT_HOME).status_code == 303


def test_the_pair_is_throttled_after_its_limit_and_told_when_to_try_again(
    client: httpx.Client, merchant: User, manual_clock: ManualClock
) -> None:
    """The window slides: five failures a minute apart make the sixth try wait until the
    first failure is 15 minutes old, and the refusal says so in words."""
    for _ in range(5):
        assert try_login(client, merchant.email, "guess", ATTACKER).status_code == 401
        manual_clock.advance(timedelta(minutes=1))
    refused = try_login(client, merchant.email, PASSWORD, ATTACKER)
    assert refused.status_code == 429
    assert (
        "Too many wrong passwords for this email from your network: try again in 10 minutes."
        in refused.text
    )
    assert refused.headers["retry-after"] == str(10 * 60)
    manual_clock.advance(timedelta(minutes=9, seconds=30))
    later = try_login(client, merchant.email, PASSWORD, ATTACKER)
    assert "try again in 1 minute." in later.text
    manual_clock.advance(timedelta(seconds=30))
    assert try_login(client, merchant.email, PASSWORD, ATTACKER).status_code == 303


def test_an_unknown_email_is_throttled_like_a_known_one(
    client: httpx.Client, merchant: User
) -> None:
    """Refusals do not tell whether an email has an account: an unknown one gets the same."""
    for email in (merchant.email, "nobody@example.com"):
        for _ in range(5):
            assert try_login(client, email, "guess", ATTACKER).status_code == 401
        refused = try_login(client, email, "guess", ATTACKER)
        assert refused.status_code == 429
        assert "for this email from your network: try again in 15 minutes." in refused.text


def test_a_right_password_clears_the_pairs_failures(client: httpx.Client, merchant: User) -> None:
    """A merchant who mistyped four times and then logged in has a clean slate."""
    for _ in range(4):
        assert try_login(client, merchant.email, "typo", MERCHANT_HOME).status_code == 401
    assert try_login(client, merchant.email, PASSWORD, MERCHANT_HOME).status_code == 303
    for _ in range(4):
        assert try_login(client, merchant.email, "typo", MERCHANT_HOME).status_code == 401
    assert try_login(client, merchant.email, PASSWORD, MERCHANT_HOME).status_code == 303


def test_an_address_is_throttled_after_50_failures_whatever_the_emails(
    client: httpx.Client, merchant: User
) -> None:
    """Spraying guesses over many emails from one address stops after 50 in 15 minutes, for
    that address only."""
    for n in range(50):
        email = f"user{n // 5}@example.com"
        assert try_login(client, email, "guess", ATTACKER).status_code == 401
    refused = try_login(client, merchant.email, PASSWORD, ATTACKER)
    assert refused.status_code == 429
    assert "Too many wrong passwords from your network: try again in 15 minutes." in refused.text
    assert try_login(client, merchant.email, PASSWORD, MERCHANT_HOME).status_code == 303


def test_guesses_sent_at_once_cannot_pass_the_limit(
    store: Store, manual_clock: ManualClock
) -> None:
    """Twenty attempts for one pair, started together by several processes' threads, let at
    most five be checked: each attempt is counted before its password is."""
    throttle = LoginThrottle(store, manual_clock)
    start = threading.Barrier(20)

    def attempt(_: int) -> bool:
        start.wait()
        return not throttle.attempt("ann@example.com", ATTACKER).refused

    with ThreadPoolExecutor(max_workers=20) as pool:
        allowed = sum(pool.map(attempt, range(20)))
    assert allowed <= 5
    # Refused attempts are not counted: exactly five checks in the window, however they came.
    while not throttle.attempt("ann@example.com", ATTACKER).refused:
        allowed += 1
    assert allowed == 5
    assert not throttle.attempt("ann@example.com", MERCHANT_HOME).refused
