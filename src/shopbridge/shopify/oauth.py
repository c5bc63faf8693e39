"""Getting Shopify access tokens (shopify_api_wave2.md §1): the install request and callback an
app verifies, and the three grants of `/admin/oauth/access_token`.

- **authorization code**: the merchant approves the app on their shop, Shopify calls back with a
  code, the code becomes an *expiring* offline token (`expiring=1`, about an hour) with a refresh
  token that rotates on every use;
- **refresh token**: a new pair; store it at once (the old refresh token dies once the new access
  token is used);
- **client credentials**: an app of the merchant's own organization asks for a token directly
  (about 24 h, no refresh token: ask again).

A pasted legacy admin token (`shpat_…` from an admin-created custom app) needs none of this.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from shopbridge.credentials import Tokens

# The least the operations need (wave2 §1.7): orders (create, mark paid, cancel), holds and
# fulfilments of merchant-managed fulfilment orders, variants by SKU, stock, locations, and the
# fulfilment webhooks' read scope.
SCOPES = (
    "write_orders",
    "write_merchant_managed_fulfillment_orders",
    "read_fulfillments",
    "read_products",
    "write_inventory",
    "read_locations",
)
HMAC_WINDOW = timedelta(seconds=90)  # Shopify's own library's tolerance (wave2 §1.2)
# When Shopify does not say how long a renewed token lives, assume an hour rather than forever.
ASSUMED_LIFETIME = timedelta(hours=1)
_SHOP = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")


class ShopifyOAuthError(Exception):
    """Shopify refused a grant, or could not be reached; the message says which and why."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


def shop_domain(value: str) -> str | None:
    """`value` as a `*.myshopify.com` host (a bare shop name is completed), or None."""
    text = value.strip().lower()
    if text.startswith("https://"):
        text = text.removeprefix("https://").rstrip("/")
    if text and "." not in text:
        text = f"{text}.myshopify.com"
    return text if _SHOP.fullmatch(text) and len(text) <= 255 else None


def query_signed(params: Iterable[tuple[str, str]], secret: str) -> bool:
    """Whether an install request or callback's `hmac` is Shopify's signature of the rest: the
    other parameters (not `signature`) sorted by key, a repeated key's values joined by commas,
    as `k=v&…`, HMAC-SHA256 with the app's client secret, hex; compared in constant time.

    Whether values are URL-encoded in that string is UNCONFIRMED for values with special
    characters, so both forms are accepted (either still needs the secret)."""
    given = ""
    values: dict[str, list[str]] = {}
    for key, value in params:
        if key == "hmac":
            given = value
        elif key != "signature":
            values.setdefault(key, []).append(value)
    if not given or not secret:
        return False
    pairs = sorted((key, ",".join(vals)) for key, vals in values.items())
    candidates = {"&".join(f"{k}={v}" for k, v in pairs), urlencode(pairs)}
    return any(hmac.compare_digest(_hex(secret, text), given.lower()) for text in candidates)


def sign_query(params: Mapping[str, str], secret: str) -> str:
    """The hex signature `query_signed` accepts (for building requests in tests and tools)."""
    pairs = sorted((k, v) for k, v in params.items() if k not in ("hmac", "signature"))
    return _hex(secret, "&".join(f"{k}={v}" for k, v in pairs))


def timestamp_fresh(raw: str | None, now: datetime) -> bool:
    try:
        stamp = int(raw or "")
    except ValueError:
        return False
    return abs(now.timestamp() - stamp) <= HMAC_WINDOW.total_seconds()


def authorize_url(
    base_url: str, client_id: str, redirect_uri: str, state: str, scopes: Iterable[str] = SCOPES
) -> str:
    """Where to send the merchant to approve the app: offline access (`grant_options[]` empty)."""
    query = urlencode(
        [
            ("client_id", client_id),
            ("scope", ",".join(scopes)),
            ("redirect_uri", redirect_uri),
            ("state", state),
            ("grant_options[]", ""),
        ]
    )
    return f"{base_url.rstrip('/')}/admin/oauth/authorize?{query}"


async def exchange_code(
    http: httpx.AsyncClient,
    base_url: str,
    client_id: str,
    client_secret: str,
    code: str,
    now: datetime,
) -> Tokens:
    """Trade an install's authorization code for an expiring offline token and refresh token."""
    body = {"client_id": client_id, "client_secret": client_secret, "code": code, "expiring": "1"}
    return _tokens(await _grant(http, base_url, body, "exchanging the install code"), now)


async def refresh(
    http: httpx.AsyncClient,
    base_url: str,
    client_id: str,
    client_secret: str,
    refresh_token: str,
    now: datetime,
) -> Tokens:
    body = {
        "client_id": client_id,
        "client_secret": client_secret,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
    }
    tokens = _tokens(await _grant(http, base_url, body, "refreshing the access token"), now)
    if tokens.expires_at is None:
        tokens = Tokens(
            tokens.access_token,
            now + ASSUMED_LIFETIME,
            tokens.refresh_token,
            tokens.refresh_expires_at,
        )
    return tokens


async def client_credentials(
    http: httpx.AsyncClient, base_url: str, client_id: str, client_secret: str, now: datetime
) -> Tokens:
    body = {
        "client_id": client_id,
        "client_secret": client_secret,
        "grant_type": "client_credentials",
    }
    answer = await _grant(http, base_url, body, "asking for a token with the client credentials")
    tokens = _tokens(answer, now)
    expires_at = tokens.expires_at or now + ASSUMED_LIFETIME
    return Tokens(tokens.access_token, expires_at)


async def _grant(
    http: httpx.AsyncClient, base_url: str, body: Mapping[str, str], doing: str
) -> dict[str, Any]:
    url = f"{base_url.rstrip('/')}/admin/oauth/access_token"
    try:
        response = await http.post(url, json=dict(body), headers={"Accept": "application/json"})
    except httpx.TransportError as error:
        raise ShopifyOAuthError(
            f"Shopify could not be reached while {doing} ({type(error).__name__}); try again",
            retryable=True,
        ) from None
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.status_code >= 500 or response.status_code == 429:
        raise ShopifyOAuthError(
            f"Shopify answered HTTP {response.status_code} while {doing}; try again",
            retryable=True,
        )
    if (
        response.status_code != 200
        or not isinstance(answer, dict)
        or not answer.get("access_token")
    ):
        said = _said(answer) or response.text[:200]
        raise ShopifyOAuthError(f"Shopify refused {doing}: HTTP {response.status_code} {said}")
    return answer


def _tokens(answer: Mapping[str, Any], now: datetime) -> Tokens:
    return Tokens(
        access_token=str(answer["access_token"]),
        expires_at=_after(now, answer.get("expires_in")),
        refresh_token=str(answer["refresh_token"]) if answer.get("refresh_token") else None,
        refresh_expires_at=_after(now, answer.get("refresh_token_expires_in")),
    )


def _after(now: datetime, seconds: Any) -> datetime | None:
    try:
        value = int(seconds)
    except (TypeError, ValueError):
        return None
    return now + timedelta(seconds=value) if value > 0 else None


def _said(answer: Any) -> str:
    if not isinstance(answer, dict):
        return ""
    parts = [str(answer.get(k)) for k in ("error", "error_description", "errors") if answer.get(k)]
    return ": ".join(parts)


def _hex(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
