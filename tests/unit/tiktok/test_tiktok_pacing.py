"""Pacing keeps each shop's endpoint under TikTok's 50 requests per second (spec §6.3)."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from shopbridge.tiktok.pacing import IN_FLIGHT_POLL_SECONDS, Pacer


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_up_to_rate_requests_start_at_once() -> None:
    """The first `rate` requests of a window start without waiting."""
    pacer = Pacer(rate=45, monotonic=FakeMonotonic())
    assert [pacer.try_start("k") for _ in range(45)] == [0.0] * 45


def test_request_beyond_rate_waits_while_all_are_in_flight() -> None:
    """With every slot in flight, the next request polls until one finishes."""
    pacer = Pacer(rate=2, monotonic=FakeMonotonic())
    pacer.try_start("k")
    pacer.try_start("k")
    assert pacer.try_start("k") == IN_FLIGHT_POLL_SECONDS


def test_a_finished_request_holds_its_slot_for_one_window() -> None:
    """A slot frees one window after its request finished, not when it started."""
    clock = FakeMonotonic()
    pacer = Pacer(rate=2, monotonic=clock)
    pacer.try_start("k")
    pacer.try_start("k")
    clock.now += 0.3
    pacer.finish("k")
    clock.now += 0.2
    assert pacer.try_start("k") == pytest.approx(0.8)
    clock.now += 0.8
    assert pacer.try_start("k") == 0.0


def test_keys_are_paced_independently() -> None:
    """Another endpoint (or shop) has its own budget."""
    pacer = Pacer(rate=1, monotonic=FakeMonotonic())
    pacer.try_start("orders")
    assert pacer.try_start("warehouses") == 0.0
    assert pacer.try_start("orders") > 0


async def test_no_server_window_receives_more_than_rate() -> None:
    """With random latencies, no one-window span holds more than `rate` receive times."""
    pacer = Pacer(rate=5, window=0.1)
    rng = random.Random(3)
    received: list[float] = []

    async def request() -> None:
        async with pacer.slot("k"):
            # The server sees the request at some point between our start and our finish.
            before, after = rng.uniform(0, 0.02), rng.uniform(0, 0.02)
            await asyncio.sleep(before)
            received.append(time.monotonic())
            await asyncio.sleep(after)

    await asyncio.gather(*(request() for _ in range(30)))
    for first in received:
        assert sum(first <= r < first + 0.1 for r in received) <= 5


async def test_slot_really_waits_in_real_time() -> None:
    """Past the rate, a slot is granted only once a window has passed since a finish."""
    pacer = Pacer(rate=2, window=0.2)
    started = time.monotonic()
    for _ in range(3):
        async with pacer.slot("k"):
            pass
    assert time.monotonic() - started >= 0.19
