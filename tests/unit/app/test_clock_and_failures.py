"""Clock specs shared across processes, and the one classification of failures."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy.exc

from shopbridge.clock import ClockSpec, ManualClock, ScaledClock, SystemClock, clock_span
from shopbridge.engine.failures import FailureKind, MalformedInput, classify
from shopbridge.engine.ports import PermanentError, RetryableError


def test_clock_specs_parse_and_refuse_nonsense() -> None:
    """system, scaled:F and scaled:F@EPOCH parse; anything else is refused with the grammar."""
    assert ClockSpec.parse("system") == ClockSpec() and not ClockSpec.parse("").scaled
    assert ClockSpec.parse("scaled:60") == ClockSpec(60.0, None)
    assert ClockSpec.parse("Scaled:1.5@1764417600.25") == ClockSpec(1.5, 1764417600.25)
    for bad in ("fast", "scaled:", "scaled:-2", "scaled:0", "scaled:inf", "scaled:2@x", "wall:2"):
        with pytest.raises(ValueError, match=r"scaled:FACTOR|positive"):
            ClockSpec.parse(bad)


def test_two_scaled_clocks_with_one_epoch_tell_the_same_time() -> None:
    """Processes given the same factor and epoch agree, however late each started."""
    epoch = time.time() - 10
    first, second = ScaledClock(60, epoch), ClockSpec.parse(f"scaled:60@{epoch!r}").clock()
    assert isinstance(second, ScaledClock)
    gap = abs((first.now() - second.now()).total_seconds())
    assert gap < 60 * 0.05, "within what 50 ms of wall time make at 60x"
    # Ten real seconds after the epoch, ten simulated minutes have passed.
    passed = first.now() - datetime.fromtimestamp(epoch, UTC)
    assert 599 < passed.total_seconds() < 660
    assert first.spec == f"scaled:60@{epoch!r}"


def test_real_seconds_become_clock_time() -> None:
    """A lease of 10 real seconds is 10 minutes on a 60x clock, and 10 s on a manual one."""
    assert clock_span(ScaledClock(60), 10).total_seconds() == 600
    assert clock_span(SystemClock(), 10).total_seconds() == 10
    assert clock_span(ManualClock(), 10).total_seconds() == 10


def test_failures_are_classified_once_for_every_kind() -> None:
    """Platform refusals are permanent, outages retryable, bad bytes malformed, the rest bugs."""
    database_down = sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))
    cases = {
        PermanentError("variant not found", code="NOT_FOUND"): FailureKind.PERMANENT,
        RetryableError("Shopify answered 503"): FailureKind.RETRYABLE,
        MalformedInput("not an encoded event"): FailureKind.MALFORMED,
        database_down: FailureKind.RETRYABLE,
        httpx.ConnectError("refused"): FailureKind.RETRYABLE,
        TimeoutError(): FailureKind.RETRYABLE,
        KeyError("surprise"): FailureKind.BUG,
    }
    for error, kind in cases.items():
        assert classify(error).kind is kind, error
    assert classify(database_down).message.startswith("the database is unavailable")
    assert classify(KeyError("x")).retried and not classify(PermanentError("no")).retried
    assert classify(PermanentError("no", code="C")).code == "C"
