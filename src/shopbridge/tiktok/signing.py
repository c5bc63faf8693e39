"""TikTok Shop Open API request signatures (API version 202309).

Algorithm (tiktok_shop_api.md §1.3, confirmed by the official page and five libraries):
sorted query parameters without `sign` and `access_token`, concatenated as key+value,
prefixed by the path, followed by the exact body bytes unless the body is multipart,
wrapped in the app secret, then lowercase hex HMAC-SHA256 keyed with the app secret.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

EXCLUDED_FROM_SIGNATURE = frozenset({"sign", "access_token", "x-tts-access-token"})


def string_to_sign(
    path: str,
    query: Mapping[str, str],
    body: bytes = b"",
    content_type: str = "application/json",
) -> bytes:
    """The bytes between the two copies of the secret."""
    parts = [path.encode()]
    for key in sorted(k for k in query if k not in EXCLUDED_FROM_SIGNATURE):
        parts.append(key.encode() + str(query[key]).encode())
    if not content_type.lower().startswith("multipart/form-data"):
        parts.append(body)
    return b"".join(parts)


def sign(
    app_secret: str,
    path: str,
    query: Mapping[str, str],
    body: bytes = b"",
    content_type: str = "application/json",
) -> str:
    """The `sign` query parameter for one request."""
    secret = app_secret.encode()
    message = secret + string_to_sign(path, query, body, content_type) + secret
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def webhook_signature(app_key: str, app_secret: str, raw_body: bytes) -> str:
    """The `Authorization` header TikTok sends with a webhook: hex HMAC(secret, key + body)."""
    return hmac.new(app_secret.encode(), app_key.encode() + raw_body, hashlib.sha256).hexdigest()


def verify_webhook(
    app_key: str, app_secret: str, raw_body: bytes, authorization: str | None
) -> bool:
    """True when `authorization` signs exactly these bytes; compared in constant time."""
    if not authorization:
        return False
    expected = webhook_signature(app_key, app_secret, raw_body)
    return hmac.compare_digest(expected.encode(), authorization.strip().encode())
