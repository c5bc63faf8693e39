"""Pacing keeps each shop's endpoint under TikTok's 50 requests per second (spec §6.3)."""

from __future__ import annotations

import time

import pytest

from shopbridge.tiktok.pacing import Pacer


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_up_to_rate_requests_start_at_once() -> None:
    """The first `rate` requests of a window start without waiting."""
    pacer = Pacer(rate=45, monotonic=FakeMonotonic())
    assert [pacer.reserve("k") for _ in range(45)] == [0.0] * 45


def test_request_beyond_rate_waits_for_the_window_to_pass() -> None:
    """The 46th request in one second waits until the first one is a second old."""
    clock = FakeMonotonic()
    pacer = Pacer(rate=45, monotonic=clock)
    for _ in range(45):
        pacer.reserve("k")
    clock.now += 0.25
    assert pacer.reserve("k") == pytest.approx(0.75)


def test_no_window_ever_holds_more_than_rate_starts() -> None:
    """Over 200 back-to-back requests, any one-second window holds at most 45 starts."""
    clock = FakeMonotonic()
    pacer = Pacer(rate=45, monotonic=clock)
    starts = [clock.now + pacer.reserve("k") for _ in range(200)]
    for first in starts:
        assert sum(first <= s < first + 1.0 for s in starts) <= 45


def test_keys_are_paced_independently() -> None:
    """Another endpoint (or shop) has its own budget."""
    pacer = Pacer(rate=2, monotonic=FakeMonotonic())
    pacer.reserve("orders")
    pacer.reserve("orders")
    assert pacer.reserve("warehouses") == 0.0
    assert pacer.reserve("orders") > 0


async def test_acquire_really_waits() -> None:
    """acquire() sleeps in real time when the window is full."""
    pacer = Pacer(rate=2, window=0.2)
    started = time.monotonic()
    for _ in range(3):
        await pacer.acquire("k")
    assert time.monotonic() - started >= 0.19
