"""The merchant UI on a real store (SQLite and PostgreSQL), with orders made by the real bridge.

- `world`: a connection (timezone America/New_York) and the bridge wired to in-memory platforms
  (tests/support/world.py); `shop` builds orders in it through domain events and the worker.
- `app_wakes`, `app`, `client`: the web app on that store, served on loopback by
  BackgroundServer, and an httpx client of it (follows redirects unless told not to); `client`
  is not logged in.
- `merchant`: a user who belongs to the world's connection; `login(client, email, password)`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import pytest
from argon2 import PasswordHasher
from starlette.applications import Starlette

from shopbridge.clock import ManualClock
from shopbridge.domain import events as ev
from shopbridge.store import MirrorRow, Store
from shopbridge.web import accounts
from shopbridge.web.accounts import User, create_user
from shopbridge_sandbox.serving import BackgroundServer
from support.orders import T0, snapshot
from support.world import World

PASSWORD = "correct horse battery"
TIMEZONE = "America/New_York"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page carries a CSRF token"
    return found.group(1)


def login(client: httpx.Client, email: str, password: str = PASSWORD) -> None:
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def post(client: httpx.Client, path: str, page: str, **data: str) -> httpx.Response:
    """POST a form the way the browser does: with the CSRF token of the page it came from."""
    token = csrf_of(client.get(page).text)
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


@dataclass
class Shop:
    """Orders in the world's connection, each brought to its state by real events."""

    world: World
    clock: ManualClock
    paid_times: dict[str, datetime] = field(default_factory=dict)

    @property
    def connection_id(self) -> int:
        return self.world.connection_id

    def settle(self) -> None:
        asyncio.run(self.world.worker().run_until_idle())

    def unpaid(self, order_id: str, skus: dict[str, int] | None = None) -> None:
        self.world.observe(snapshot("UNPAID", at=self.clock.now(), order_id=order_id, skus=skus))
        self.settle()

    def paid(self, order_id: str, skus: dict[str, int] | None = None) -> None:
        """Reserved in Shopify, then paid: listed, in holdback."""
        self.unpaid(order_id, skus)
        self.clock.advance(timedelta(minutes=1))
        paid = self.clock.now()
        self.paid_times[order_id] = paid
        self.world.observe(
            snapshot(
                "AWAITING_SHIPMENT",
                at=paid,
                paid=paid,
                on_hold=False,
                order_id=order_id,
                skus=skus,
            )
        )
        self.settle()

    def release_all(self) -> None:
        """The holdback of every paid order ends; TikTok still says they are live."""
        self.clock.advance(timedelta(minutes=61))
        self.settle()

    def fulfil(self, order_id: str, company: str = "UPS", number: str = "1Z999AA1") -> None:
        row = self.mirror(order_id)
        assert row.shopify_order_id is not None
        fulfilment = self.world.shopify.fulfil(row.shopify_order_id, company, number)
        self.world.apply(
            order_id, ev.ShopifyFulfilmentObserved(fulfilment.fulfillment_id, company, number)
        )
        self.settle()

    def request_cancel(self, order_id: str, cancel_id: str) -> None:
        """The buyer asks to cancel after the holdback: a request the seller must answer."""
        self.clock.advance(timedelta(minutes=1))
        now = self.clock.now()
        self.world.tiktok.update(order_id, is_buyer_request_cancel=True, update_time=now)
        request = ev.CancellationObserved(
            cancel_id, "CANCELLATION_REQUEST_PENDING", "BUYER", now, now + timedelta(hours=48)
        )
        self.world.tiktok.cancellations[order_id].append(request)
        self.world.apply(order_id, request)
        self.settle()

    def cancel(self, order_id: str) -> None:
        """The buyer cancels within the first hour: TikTok cancels, we mirror it."""
        self.clock.advance(timedelta(minutes=1))
        now = self.clock.now()
        self.world.observe(
            snapshot(
                "CANCELLED",
                at=now,
                paid=self.paid_times.get(order_id),
                order_id=order_id,
                initiator="BUYER",
                reason="No longer needed",
            )
        )
        self.settle()

    def mirror(self, order_id: str) -> MirrorRow:
        row = self.world.store.get_mirror(self.connection_id, order_id)
        assert row is not None
        return row


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    # argon2's production cost (~0.5 s a hash on a busy CI box) would dominate these tests; the
    # hashes are still argon2id, only with the smallest memory and time cost.
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(accounts, "PASSWORD_HASHER", cheap)


@pytest.fixture
def world(store: Store, manual_clock: ManualClock) -> World:
    manual_clock.set(T0)
    built = World(store, manual_clock)
    store.update_connection(built.connection_id, timezone=TIMEZONE, tiktok_region="US")
    return built


@pytest.fixture
def shop(world: World, manual_clock: ManualClock) -> Shop:
    return Shop(world, manual_clock)


@pytest.fixture
def merchant(store: Store, world: World) -> User:
    return create_user(store, "ann@example.com", PASSWORD, [world.connection_id])


@pytest.fixture
def app_wakes() -> list[int]:
    return []


@pytest.fixture
def app(world: World, app_wakes: list[int]) -> Starlette:
    return world.service.web(wake=lambda: app_wakes.append(1), secret_key="test-session-key")


@pytest.fixture
def client(app: Starlette) -> Iterator[httpx.Client]:
    with (
        BackgroundServer(app) as server,
        httpx.Client(base_url=server.base_url, follow_redirects=True) as http,
    ):
        yield http
