"""A platform that cannot be reached is not a platform that refused the credentials: connecting
says which host could not be resolved, refused or timed out, and what to check."""

from __future__ import annotations

import socket

import httpx
import pytest

from shopbridge.engine.connect import _unreachable
from shopbridge.shopify.client import ShopifyClient
from shopbridge.shopify.errors import ShopifyError


async def _no_sleep(_seconds: float) -> None:
    return None


async def _shopify_failure(
    base_url: str, transport: httpx.AsyncBaseTransport | None
) -> ShopifyError:
    async with ShopifyClient(
        "my-store.myshopify.com",
        "shpat_token",
        base_url=base_url,
        transport=transport,
        max_attempts=2,
        sleep=_no_sleep,
    ) as shopify:
        with pytest.raises(ShopifyError) as raised:
            await shopify.locations()
    failure: ShopifyError = raised.value
    return failure


async def test_a_shopify_host_that_does_not_resolve_is_named() -> None:
    """A real lookup of a `.invalid` name (it never resolves, so nothing leaves the machine)."""
    error = await _shopify_failure("https://shop.shopbridge-test.invalid", None)
    line = _unreachable("Shopify", error, "--shopify-domain and --shopify-api-url")
    assert line is not None
    assert line.startswith("could not reach Shopify: the host name shop.shopbridge-test.invalid")
    assert "could not be resolved (DNS)" in line
    assert "check --shopify-domain and --shopify-api-url" in line


async def test_a_refused_connection_and_a_timeout_are_told_apart() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    def stall(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    refused = await _shopify_failure("https://127.0.0.1:1", httpx.MockTransport(refuse))
    timed_out = await _shopify_failure("https://127.0.0.1:1", httpx.MockTransport(stall))
    assert "the connection at 127.0.0.1 was refused or failed" in str(
        _unreachable("Shopify", refused, "x")
    )
    assert "no answer in time at 127.0.0.1" in str(_unreachable("Shopify", timed_out, "x"))


async def test_an_answer_from_the_platform_is_not_called_unreachable() -> None:
    """Shopify answered 401: the credentials were judged, so the caller says they were
    refused (None here)."""

    def unauthorized(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"errors": "[API] Invalid API key or access token"})

    error = await _shopify_failure("https://127.0.0.1:1", httpx.MockTransport(unauthorized))
    assert _unreachable("Shopify", error, "x") is None


def test_a_resolver_failure_deep_in_the_chain_is_found() -> None:
    """The name lookup's error sits several causes down (httpx → httpcore → socket)."""
    request = httpx.Request("GET", "https://auth.shopbridge-test.invalid/api/v2/token/get")
    try:
        try:
            try:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            except socket.gaierror as lookup:
                raise httpx.ConnectError(str(lookup), request=request) from lookup
        except httpx.ConnectError as transport:
            raise RuntimeError("TikTok Shop token/get failed") from transport
    except RuntimeError as outer:
        line = _unreachable("TikTok Shop", outer, "--tiktok-auth-url")
    assert line is not None
    assert "the host name auth.shopbridge-test.invalid could not be resolved" in line
