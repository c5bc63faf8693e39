"""Tokens renewed before they expire, once for all processes, and refused renewals reported."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from shopbridge.clock import ManualClock
from shopbridge.credentials import Tokens
from shopbridge.engine.ports import AccessLost
from shopbridge.engine.tokens import StoredTokens
from shopbridge.store import Store


class Platform:
    """A token endpoint that rotates the refresh token and refuses a used one."""

    def __init__(self, clock: ManualClock, lifetime: timedelta = timedelta(hours=1)) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.renewals = 0
        self.live_refresh = "refresh-0"
        self.delay = 0.0

    async def renew(self, tokens: Tokens) -> Tokens:
        await asyncio.sleep(self.delay)
        if tokens.refresh_token != self.live_refresh:
            raise AccessLost("shopify", f"refresh token {tokens.refresh_token} was refused")
        self.renewals += 1
        self.live_refresh = f"refresh-{self.renewals}"
        return Tokens(
            f"access-{self.renewals}", self.clock.now() + self.lifetime, self.live_refresh
        )


def _connection(store: Store, clock: ManualClock, expires_in: timedelta) -> int:
    connection_id = store.add_connection(name="Tokens", shopify_auth="authorization_code")
    store.save_tokens(
        connection_id, "shopify", Tokens("access-0", clock.now() + expires_in, "refresh-0")
    )
    return connection_id


def _source(store: Store, clock: ManualClock, cid: int, platform: Platform, owner: str):
    return StoredTokens(store, clock, cid, "shopify", platform.renew, owner=owner)


async def test_a_token_far_from_expiry_is_used_as_stored(
    store: Store, manual_clock: ManualClock
) -> None:
    platform = Platform(manual_clock)
    cid = _connection(store, manual_clock, timedelta(hours=1))
    assert await _source(store, manual_clock, cid, platform, "w1").token() == "access-0"
    assert platform.renewals == 0


async def test_processes_racing_near_expiry_renew_once_and_share_the_result(
    store: Store, manual_clock: ManualClock
) -> None:
    """Four processes find the token 2 minutes from expiry at once: one renews (the refresh
    token rotates), the others wait for it and use the same new token."""
    platform = Platform(manual_clock)
    platform.delay = 0.3
    cid = _connection(store, manual_clock, timedelta(hours=1))
    sources = [_source(store, manual_clock, cid, platform, f"w{i}") for i in range(4)]
    assert await asyncio.gather(*(s.token() for s in sources)) == ["access-0"] * 4
    manual_clock.advance(timedelta(minutes=58))
    tokens = await asyncio.gather(*(s.token() for s in sources))
    assert tokens == ["access-1"] * 4
    assert platform.renewals == 1
    stored = store.tokens(cid, "shopify")
    assert stored is not None and stored.refresh_token == "refresh-1"
    assert store.get_connection(cid).shopify_token_lease_owner is None


async def test_a_rejected_token_is_renewed_once_then_the_new_one_is_tried(
    store: Store, manual_clock: ManualClock
) -> None:
    platform = Platform(manual_clock)
    cid = _connection(store, manual_clock, timedelta(hours=1))
    first, second = (_source(store, manual_clock, cid, platform, w) for w in ("w1", "w2"))
    token = await first.token()
    await second.token()
    assert await first.rejected(token) is True
    assert await first.token() == "access-1"
    # The other process is refused the same old token: it finds the renewed one, no 2nd renewal.
    assert await second.rejected(token) is True
    assert await second.token() == "access-1"
    assert platform.renewals == 1


async def test_a_refused_renewal_is_access_lost_and_frees_the_lease(
    store: Store, manual_clock: ManualClock
) -> None:
    platform = Platform(manual_clock)
    platform.live_refresh = "revoked-elsewhere"
    cid = _connection(store, manual_clock, timedelta(hours=1))
    source = _source(store, manual_clock, cid, platform, "w1")
    await source.token()
    manual_clock.advance(timedelta(minutes=59))
    with pytest.raises(AccessLost):
        await source.token()
    assert store.get_connection(cid).shopify_token_lease_owner is None


async def test_a_dead_renewers_lease_lapses(store: Store, manual_clock: ManualClock) -> None:
    """A process killed while renewing leaves its lease; after it lapses another renews."""
    platform = Platform(manual_clock)
    cid = _connection(store, manual_clock, timedelta(hours=1))
    source = _source(store, manual_clock, cid, platform, "w2")
    await source.token()
    manual_clock.advance(timedelta(minutes=58))
    lapses = manual_clock.now() + timedelta(seconds=30)
    assert store.take_token_lease(cid, "shopify", "dead", lapses)
    manual_clock.advance(timedelta(seconds=31))
    assert await source.token() == "access-1"


async def test_a_short_lived_token_is_renewed_near_its_end_not_on_every_call(
    store: Store, manual_clock: ManualClock
) -> None:
    """Tokens living 10 s (a sandbox set to expire them fast): renewed in their last fifth."""
    platform = Platform(manual_clock, lifetime=timedelta(seconds=10))
    cid = _connection(store, manual_clock, timedelta(seconds=10))
    source = _source(store, manual_clock, cid, platform, "w1")
    for _ in range(5):
        assert await source.token() == "access-0"
    manual_clock.advance(timedelta(seconds=8.5))
    assert await source.token() == "access-1"
    assert await source.token() == "access-1"
    assert platform.renewals == 1


async def test_a_fixed_token_is_never_renewed(store: Store, manual_clock: ManualClock) -> None:
    cid = _connection(store, manual_clock, timedelta(minutes=1))
    source = StoredTokens(store, manual_clock, cid, "shopify", None, owner="w1")
    assert await source.token() == "access-0"
    assert await source.rejected("access-0") is False
