"""How the client maps failures and recovers: retries, token refresh, error kinds (spec §6)."""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Callable

import httpx
import pytest
from tiktok_fake import NOW, FakeTikTok, envelope, query_of

from shopbridge.clock import ManualClock
from shopbridge.tiktok.client import TikTokClient
from shopbridge.tiktok.errors import (
    TikTokError,
    TikTokPermanent,
    TikTokRetryable,
    TikTokTokenExpired,
    classify,
)

WAREHOUSES = "/logistics/202309/warehouses"
SHOPS = "/authorization/202309/shops"


async def test_bad_sign_is_permanent_and_not_retried(
    fake: FakeTikTok, make_client: Callable[..., TikTokClient]
) -> None:
    """A wrong app secret yields 106001 as TikTokPermanent after a single request."""
    client = make_client(app_secret="not-the-secret")
    with pytest.raises(TikTokPermanent) as caught:
        await client.get_warehouses()
    assert caught.value.code == 106001
    assert len(fake.requests) == 1


async def test_error_message_names_call_code_and_platform_message(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """The error text carries what TikTok said, which call it was and the code."""
    fake.queue("GET", WAREHOUSES, envelope(101000, "The shop_cipher does not match the token"))
    with pytest.raises(TikTokPermanent) as caught:
        await client.get_warehouses()
    text = str(caught.value)
    assert "GET /logistics/202309/warehouses" in text
    assert "The shop_cipher does not match the token" in text
    assert "101000" in text
    assert caught.value.request_id == "req-1"


async def test_expired_token_is_refreshed_once_and_the_call_retried(
    fake: FakeTikTok, client: TikTokClient, refreshed_tokens: list[object]
) -> None:
    """On 105002 the client refreshes on the auth host and repeats the call with the new token."""
    fake.expire("access-1")
    fake.queue("GET", WAREHOUSES, {"warehouses": [{"id": "w1"}]})
    warehouses = await client.get_warehouses()
    assert [w.id for w in warehouses] == ["w1"]
    assert fake.refreshes == 1
    assert len(refreshed_tokens) == 1
    retried = fake.sent(WAREHOUSES)[-1]
    assert retried.headers["x-tts-access-token"] == client.access_token != "access-1"


async def test_token_still_expired_after_refresh_is_raised(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """If the refreshed token is refused too, the client raises instead of refreshing again."""
    fake.expire("access-1")
    fake.queue("GET", WAREHOUSES, envelope(105002, "Expired credentials. The token has expired."))
    with pytest.raises(TikTokTokenExpired):
        await client.get_warehouses()
    assert fake.refreshes == 1
    assert len(fake.sent(WAREHOUSES)) == 2


async def test_concurrent_expired_calls_share_one_refresh(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """Several calls failing on the same expired token trigger a single refresh."""
    fake.expire("access-1")
    fake.queue("GET", WAREHOUSES, *[{"warehouses": []} for _ in range(5)])
    await asyncio.gather(*(client.get_warehouses() for _ in range(5)))
    assert fake.refreshes == 1


async def test_failed_refresh_surfaces_the_auth_error(
    fake: FakeTikTok, make_client: Callable[..., TikTokClient]
) -> None:
    """A refused refresh token fails the call with the auth host's own error."""
    client = make_client(refresh_token="revoked")
    fake.expire("access-1")
    with pytest.raises(TikTokPermanent, match="invalid refresh_token"):
        await client.get_warehouses()


async def test_http_429_is_retried(fake: FakeTikTok, client: TikTokClient) -> None:
    """A throttled request (HTTP 429) is retried and the call then succeeds."""
    fake.queue(
        "GET",
        WAREHOUSES,
        envelope(36009002, "Too many requests", status=429),
        {"warehouses": [{"id": "w1"}]},
    )
    assert [w.id for w in await client.get_warehouses()] == ["w1"]
    assert len(fake.requests) == 2


async def test_retryable_code_under_http_200_is_retried(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """Code 36009003 (internal error) is retried even when the HTTP status says 200."""
    fake.queue("GET", WAREHOUSES, envelope(36009003, "Internal error"), {"warehouses": []})
    assert await client.get_warehouses() == []
    assert len(fake.requests) == 2


async def test_persistent_5xx_raises_retryable_after_three_attempts(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """Three 503s in a row end in TikTokRetryable so the caller's outbox reschedules."""
    down = envelope(36009003, "Service unavailable", status=503)
    fake.queue("GET", WAREHOUSES, down, down, down, {"warehouses": []})
    with pytest.raises(TikTokRetryable) as caught:
        await client.get_warehouses()
    assert caught.value.http_status == 503
    assert len(fake.requests) == 3


async def test_non_json_5xx_is_retryable(fake: FakeTikTok, client: TikTokClient) -> None:
    """A gateway error page without an envelope still counts as retryable."""
    page = httpx.Response(502, text="<html>Bad Gateway</html>")
    fake.queue("GET", WAREHOUSES, page, page, page)
    with pytest.raises(TikTokRetryable, match="Bad Gateway"):
        await client.get_warehouses()


async def test_connection_error_is_retried_then_retryable(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """A connection that cannot be made is tried three times, then raised as retryable."""
    refused = httpx.ConnectError("Connection refused")
    fake.queue("GET", WAREHOUSES, refused, refused, refused)
    with pytest.raises(TikTokRetryable, match="ConnectError") as caught:
        await client.get_warehouses()
    assert caught.value.code is None
    assert len(fake.requests) == 3


async def test_timeout_then_success_returns_the_result(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """A read timeout is retried like any transport failure."""
    fake.queue("GET", WAREHOUSES, httpx.ReadTimeout("timed out"), {"warehouses": []})
    assert await client.get_warehouses() == []


async def test_non_envelope_success_is_permanent(fake: FakeTikTok, client: TikTokClient) -> None:
    """A 200 reply that is not TikTok's envelope is a permanent error, not a silent success."""
    fake.queue("GET", WAREHOUSES, httpx.Response(200, text="ok"))
    with pytest.raises(TikTokPermanent, match="unexpected reply"):
        await client.get_warehouses()


async def test_reply_of_unexpected_shape_is_permanent(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """An order without an id in a success reply raises TikTokPermanent naming the field."""
    fake.queue("GET", "/order/202309/orders", {"orders": [{"status": "UNPAID"}]})
    with pytest.raises(TikTokPermanent, match=r"Order.*id"):
        await client.get_orders(["1"])


async def test_retry_waits_use_real_time_not_the_manual_clock(
    fake: FakeTikTok, client: TikTokClient
) -> None:
    """Backoff between attempts does not hang on a ManualClock that nobody advances."""
    fake.queue("GET", SHOPS, envelope(36009007, "Request timeout"), {"shops": []})
    assert await asyncio.wait_for(client.get_authorized_shops(), timeout=5) == []


@pytest.mark.parametrize(
    ("code", "http_status", "kind"),
    [
        (36009002, 429, TikTokRetryable),
        (36009003, 200, TikTokRetryable),
        (36009007, 200, TikTokRetryable),
        (None, 500, TikTokRetryable),
        (None, None, TikTokPermanent),
        (105002, 401, TikTokTokenExpired),
        (106001, 401, TikTokPermanent),
        (101000, 200, TikTokPermanent),
        (21011044, 200, TikTokPermanent),
        (36009004, 400, TikTokPermanent),
    ],
)
def test_codes_map_to_the_documented_error_kind(
    code: int | None, http_status: int | None, kind: type[TikTokError]
) -> None:
    """Each documented code or HTTP status maps to its retry policy (spec §6.2)."""
    assert type(classify(code, "m", "r", "GET /x", http_status)) is kind


def test_errors_survive_pickling() -> None:
    """An error keeps its fields through pickling (worker processes pass them around)."""
    error = classify(106001, "Invalid sign", "req", "GET /x", 401)
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.code, str(copy)) == (TikTokPermanent, 106001, str(error))


async def test_each_attempt_is_signed_with_a_fresh_timestamp(
    fake: FakeTikTok, make_client: Callable[..., TikTokClient]
) -> None:
    """A retry made later carries the clock's new time and a sign that matches it."""
    clock = ManualClock(NOW)

    def busy_while_time_passes(request: httpx.Request) -> httpx.Response:
        clock.advance(90)
        return envelope(36009003, "Internal error", status=503)

    client = make_client(clock=clock)
    fake.queue("GET", WAREHOUSES, busy_while_time_passes, {"warehouses": []})
    assert await client.get_warehouses() == []
    first, second = (query_of(r) for r in fake.requests)
    assert int(second["timestamp"]) - int(first["timestamp"]) == 90
    assert first["sign"] != second["sign"]
