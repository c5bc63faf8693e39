"""The checks TikTok's gateway makes before a request reaches a service (§1.2, §1.3, §5, §6.2).

In order: app_key known, sign present, timestamp inside [now - 5 min, now + 30 s] of the sandbox
clock, sign correct over path + sorted query + exact body bytes, access token known (105001 if
the seller deauthorized it), issued to this app and unexpired (the app's lifetime, 7 days by
default), then shop_cipher: refused on /authorization/ and /seller/ paths, required elsewhere,
and it must name one of the token's shops.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shopbridge_sandbox.tiktok import errors as e
from shopbridge_sandbox.tiktok.models import Grant, Shop
from shopbridge_sandbox.tiktok.signing import request_sign
from shopbridge_sandbox.tiktok.state import Marketplace

TIMESTAMP_PAST_LIMIT = timedelta(minutes=5)
TIMESTAMP_FUTURE_LIMIT = timedelta(seconds=30)
# ECOM Client.php strips shop_cipher for these; the gateway refuses it there (§1.2).
_UNSCOPED_PATH = re.compile(r"^/(authorization|seller)/\d{6}/")


def is_shop_scoped(path: str) -> bool:
    return _UNSCOPED_PATH.match(path) is None


@dataclass(frozen=True)
class Caller:
    app_key: str
    grant: Grant
    shop: Shop | None  # None on /authorization/ and /seller/ paths


def authenticate(
    market: Marketplace,
    path: str,
    query: Mapping[str, str],
    body: bytes,
    content_type: str,
    access_token: str | None,
) -> Caller:
    app_key = query.get("app_key", "")
    app = market.grants.apps.get(app_key)
    if app is None:
        raise e.gateway(e.INVALID_REQUEST, "Invalid app_key. The app_key is not valid")
    given_sign = query.get("sign")
    if not given_sign:
        raise e.gateway(e.INVALID_REQUEST, "Invalid sign. The sign query parameter is missing")
    _check_timestamp(query.get("timestamp", ""), market.clock.now())
    expected = request_sign(app.app_secret, path, query, body, content_type or "application/json")
    if not hmac.compare_digest(expected.encode(), given_sign.lower().encode()):
        raise e.gateway(e.INVALID_SIGN, "Invalid sign. Check the signature algorithm")
    if not access_token:
        raise e.gateway(
            e.INVALID_REQUEST,
            "Invalid credentials. The x-tts-access-token header is missing",
        )
    grant = market.grants.by_access_token.get(access_token)
    if grant is None and market.grants.was_deauthorized(access_token):
        # wave2 §1.5: documented for creators; assumed the same for sellers (UNCONFIRMED).
        raise e.gateway(
            e.TOKEN_DEAUTHORIZED,
            "access token is invalid; detail: your token has been deauthorized",
        )
    if grant is None or grant.app_key != app_key:
        raise e.gateway(
            e.INVALID_REQUEST,
            "Invalid credentials. The x-tts-access-token header is invalid",
        )
    if market.clock.now() >= grant.access_expires_at:
        raise e.gateway(
            e.TOKEN_EXPIRED, "Expired credentials. The x-tts-access-token header has expired."
        )
    cipher = query.get("shop_cipher")
    if not is_shop_scoped(path):
        if cipher:
            raise e.gateway(
                e.INVALID_REQUEST,
                "Unexpected identifier. The shop_cipher query parameter is not required",
            )
        return Caller(app_key, grant, None)
    if not cipher:
        raise e.gateway(e.SHOP_CIPHER_MISSING, "shop_cipher is required for this API")
    shop = market.shop_by_cipher(cipher)
    if shop is None or shop.id not in grant.shop_ids:
        raise e.gateway(
            e.TOKEN_SHOP_MISMATCH,
            "The access token and shop_cipher do not match the same shop",
        )
    return Caller(app_key, grant, shop)


def _check_timestamp(raw: str, now: datetime) -> None:
    if not raw.isdigit() or len(raw) != len("1700000000"):  # Unix seconds, 10 digits (§1.2)
        raise e.gateway(
            e.INVALID_REQUEST,
            "Invalid timestamp. The timestamp query parameter must be Unix seconds (10 digits)",
        )
    sent = datetime.fromtimestamp(int(raw), UTC)
    if not now - TIMESTAMP_PAST_LIMIT <= sent <= now + TIMESTAMP_FUTURE_LIMIT:
        raise e.gateway(
            e.INVALID_REQUEST,
            "Invalid timestamp. The timestamp must be within 5 minutes before and 30 seconds "
            f"after the server time ({int(now.timestamp())})",
        )
