"""The client-side cost estimate and bucket model (shopify_api.md §8)."""

from __future__ import annotations

import asyncio

import pytest
from graphql import parse
from shopify_fakes import FakeTime

from shopbridge.shopify.operations import OPERATIONS
from shopbridge.shopify.throttle import (
    MAX_QUERY_COST,
    RESERVATION_SHARE,
    SPARE_FRACTION,
    ShopBucket,
    ThrottleStatus,
    estimate_requested_cost,
    reserving_stock,
)


def test_connection_costs_two_plus_page_size_times_item() -> None:
    """orders(first: 5) { nodes { id } } costs 2 + 5 × 1."""
    assert estimate_requested_cost(parse("{ orders(first: 5) { nodes { id } } }"), {}) == 7


def test_page_size_is_read_from_variables() -> None:
    """A `first: $n` page size is taken from the variables."""
    document = parse("query Q($n: Int!) { orders(first: $n) { nodes { id customer { id } } } }")
    assert estimate_requested_cost(document, {"n": 10}) == 2 + 10 * 2


def test_mutation_costs_ten_plus_its_payload() -> None:
    """A mutation field costs 10, plus the objects it selects."""
    document = parse("mutation { orderMarkAsPaid(input: {id: 1}) { order { id } } }")
    assert estimate_requested_cost(document, {}) == 10 + 1


def test_every_operation_stays_under_the_query_ceiling() -> None:
    """With their largest page sizes, all our operations request less than 1000 points."""
    for op in OPERATIONS.values():
        assert estimate_requested_cost(op.document, {"first": 50}) < MAX_QUERY_COST, op.name


async def test_bucket_waits_for_the_missing_points(fake_time: FakeTime) -> None:
    """With 5 points left at 100/s, reserving 25 waits 0.2 s plus the time to restore the spare."""
    bucket = ShopBucket(monotonic=fake_time.monotonic, sleep=fake_time.sleep)
    await bucket.acquire(10)
    bucket.settle(10, ThrottleStatus(2000, 5, 100))
    with reserving_stock():
        await bucket.acquire(25)
    assert fake_time.sleeps == [pytest.approx(0.2 + 2000 * SPARE_FRACTION / 100)]


async def test_unknown_bucket_lets_the_first_call_through(fake_time: FakeTime) -> None:
    """Before Shopify reports the bucket, a call is sent without waiting."""
    bucket = ShopBucket(monotonic=fake_time.monotonic, sleep=fake_time.sleep)
    await bucket.acquire(500)
    assert fake_time.sleeps == []


async def test_calls_in_flight_count_against_the_reported_bucket(fake_time: FakeTime) -> None:
    """Points reserved by calls still in flight are subtracted from what Shopify reports."""
    bucket = ShopBucket(monotonic=fake_time.monotonic, sleep=fake_time.sleep)
    await bucket.acquire(10)
    bucket.settle(10, ThrottleStatus(2000, 1990, 100))
    await bucket.acquire(10)
    await bucket.acquire(10)
    bucket.settle(10, ThrottleStatus(2000, 40, 100))  # one call of 10 is still in flight
    with reserving_stock():
        await bucket.acquire(40)
    assert fake_time.sleeps == [pytest.approx((40 - 30 + 2000 * SPARE_FRACTION) / 100)]


async def test_cold_bucket_holds_back_a_second_call_until_the_first_answers(
    fake_time: FakeTime,
) -> None:
    """While the first call to an unknown bucket is out, a second caller waits for its answer."""
    bucket = ShopBucket(monotonic=fake_time.monotonic, sleep=fake_time.sleep)
    await bucket.acquire(10)
    second = asyncio.create_task(bucket.acquire(10))
    await asyncio.sleep(0)
    assert not second.done()
    bucket.settle(10, ThrottleStatus(2000, 1990, 100))
    await asyncio.wait_for(second, timeout=1)
    assert fake_time.sleeps  # it polled at least once before the answer came


async def test_cancelled_waiter_gives_its_points_back(fake_time: FakeTime) -> None:
    """A caller cancelled while queued for points returns them, so later callers do not wait."""
    queued_sleeping = asyncio.Event()
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 1:
            queued_sleeping.set()
            await asyncio.Event().wait()  # never woken: only cancellation ends it

    bucket = ShopBucket(monotonic=fake_time.monotonic, sleep=sleep)
    await bucket.acquire(10)
    bucket.settle(10, ThrottleStatus(2000, 1000, 100))
    with reserving_stock():  # the task copies the context: a reservation too
        queued = asyncio.create_task(bucket.acquire(1500))
    await queued_sleeping.wait()
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    with reserving_stock():
        await bucket.acquire(1000 - 2000 * SPARE_FRACTION)  # fits only if the 1500 came back
    assert len(sleeps) == 1


async def test_other_calls_leave_the_reservation_share_untouched(fake_time: FakeTime) -> None:
    """With 5 points left at 100/s, a release of 25 waits until the bucket holds the share kept
    for reservations plus the spare plus its own 25 (6.2 s on Standard), reserving nothing
    meanwhile; a reservation in the same state waits only for its own points and the spare."""
    bucket = ShopBucket(monotonic=fake_time.monotonic, sleep=fake_time.sleep)
    await bucket.acquire(10)
    bucket.settle(10, ThrottleStatus(2000, 5, 100))
    await bucket.acquire(25)
    floor = 2000 * (SPARE_FRACTION + RESERVATION_SHARE)
    assert sum(fake_time.sleeps) == pytest.approx((floor + 25 - 5) / 100)

    fake_time.sleeps.clear()
    bucket.settle(25, ThrottleStatus(2000, 5, 100))
    with reserving_stock():
        await bucket.acquire(25)
    assert sum(fake_time.sleeps) == pytest.approx((2000 * SPARE_FRACTION + 25 - 5) / 100)


async def test_a_reservation_goes_first_while_a_release_yields(fake_time: FakeTime) -> None:
    """A release that finds the bucket low waits without reserving, so a reservation arriving
    meanwhile is not queued behind it: it is sent as soon as its own points are there."""
    bucket = ShopBucket(monotonic=fake_time.monotonic, sleep=fake_time.sleep)
    await bucket.acquire(10)
    bucket.settle(10, ThrottleStatus(2000, 300, 100))
    release = asyncio.create_task(bucket.acquire(30))
    await asyncio.sleep(0)
    assert not release.done(), "300 points are below the share kept for reservations"
    with reserving_stock():
        await asyncio.wait_for(bucket.acquire(20), timeout=1)  # 300 - 20 >= the spare: at once
    await asyncio.wait_for(release, timeout=1)
    assert fake_time.now >= (2000 * (SPARE_FRACTION + RESERVATION_SHARE) + 30 - 280) / 100


async def test_a_call_dearer_than_the_free_part_waits_for_a_full_bucket(
    fake_time: FakeTime,
) -> None:
    """A 1000-point read on a 1000-point bucket cannot leave the share: it waits for the bucket
    to be full (then, like any call, for the spare), not forever."""
    bucket = ShopBucket(monotonic=fake_time.monotonic, sleep=fake_time.sleep)
    await bucket.acquire(10)
    bucket.settle(10, ThrottleStatus(1000, 400, 50))
    await asyncio.wait_for(bucket.acquire(1000), timeout=1)
    assert sum(fake_time.sleeps) == pytest.approx((1000 - 400 + 1000 * SPARE_FRACTION) / 50)
