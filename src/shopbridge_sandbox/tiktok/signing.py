"""TikTok's signatures as the sandbox checks and makes them, written apart from shopbridge's signer.

The sandbox plays the platform, so it must not borrow the client's code: a bug in shopbridge's
signer would then sign and verify alike and hide. This is the algorithm as tiktok_shop_api.md
§1.3 states it, spelled out step by step:

1. take every query parameter except `sign` and `access_token`, sorted by name;
2. concatenate them as name + value, and put the request path in front;
3. append the body bytes exactly as received, unless the request is multipart;
4. wrap the result in the app secret on both sides;
5. HMAC-SHA256 it with the app secret as the key, as lowercase hex.

Webhooks (§2.2): the `Authorization` header is hex HMAC-SHA256(app_secret, app_key + body).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

_NOT_SIGNED = ("sign", "access_token")


def request_sign(
    app_secret: str, path: str, query: Mapping[str, str], body: bytes, content_type: str
) -> str:
    """The `sign` a correct client sends for this request."""
    names = sorted(name for name in query if name not in _NOT_SIGNED)
    text = path + "".join(f"{name}{query[name]}" for name in names)
    payload = text.encode("utf-8")
    if "multipart/form-data" not in content_type.lower():
        payload += body
    wrapped = app_secret.encode("utf-8") + payload + app_secret.encode("utf-8")
    digest = hmac.HMAC(app_secret.encode("utf-8"), digestmod=hashlib.sha256)
    digest.update(wrapped)
    return digest.hexdigest()


def webhook_authorization(app_key: str, app_secret: str, body: bytes) -> str:
    """The `Authorization` header the sandbox puts on a webhook it pushes."""
    digest = hmac.HMAC(app_secret.encode("utf-8"), digestmod=hashlib.sha256)
    digest.update(app_key.encode("utf-8"))
    digest.update(body)
    return digest.hexdigest()
