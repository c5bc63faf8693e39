"""The one app the sandbox knows: its client credentials, redirect URLs and token lifetimes.

Shopify calls it the app's "client credentials" (Dev Dashboard → app → Settings). The defaults
are derived from constants, so a sandbox started twice hands out the same client id and secret
and a bridge configured once keeps working across restarts.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from shopbridge_sandbox.shopify.world import SandboxError

DEFAULT_CLIENT_ID = "sandbox-shopify-app"
# 32 hex characters, the length of a real client secret's hex part; fixed, not random.
DEFAULT_CLIENT_SECRET = hashlib.sha256(b"shopbridge sandbox shopify client secret").hexdigest()[:32]
# What shopbridge asks for (shopify_api_wave2.md §1.7); the sandbox grants what is asked and
# does not enforce scopes on API calls.
DEFAULT_SCOPES = (
    "read_orders",
    "write_orders",
    "read_merchant_managed_fulfillment_orders",
    "write_merchant_managed_fulfillment_orders",
    "read_products",
    "read_inventory",
    "write_inventory",
    "read_locations",
)
ACCESS_TOKEN_LIFETIME = 3600  # `expires_in` of an expiring offline token (§1.2 step 4)
REFRESH_TOKEN_LIFETIME = 90 * 86400  # "multi-week to multi-month", exact value UNCONFIRMED
CLIENT_CREDENTIALS_LIFETIME = 86399  # 24 h, UNCONFIRMED on shopify.dev (§1.1)
# The lifetimes and redirect URLs a control call may change while the sandbox runs.
ADJUSTABLE = (
    "redirect_urls",
    "access_token_lifetime",
    "refresh_token_lifetime",
    "client_credentials_lifetime",
)


@dataclass
class PartnerApp:
    """The app whose client id and secret the OAuth endpoints accept.

    Lifetimes are in seconds and apply to tokens issued after they are set. An empty
    `redirect_urls` accepts any `redirect_uri`, as a sandbox should for loopback ports it
    cannot know in advance; once set, only those are allowed (Shopify's "Allowed redirection
    URL(s)")."""

    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    name: str = "shopbridge"
    redirect_urls: tuple[str, ...] = ()
    access_token_lifetime: int = ACCESS_TOKEN_LIFETIME
    refresh_token_lifetime: int = REFRESH_TOKEN_LIFETIME
    client_credentials_lifetime: int = CLIENT_CREDENTIALS_LIFETIME
    scopes: tuple[str, ...] = field(default=DEFAULT_SCOPES)

    def __post_init__(self) -> None:
        self.update({name: getattr(self, name) for name in ADJUSTABLE})

    def allows_redirect(self, uri: str) -> bool:
        return not self.redirect_urls or uri in self.redirect_urls

    def legacy_token(self, shop_name: str) -> str:
        """The static `shpat_` token of an admin-created custom app for this shop: derived
        from the app secret and the shop's name, so the demo shop's token survives restarts."""
        digest = hmac.new(self.client_secret.encode(), f"legacy:{shop_name}".encode(), "sha256")
        return f"shpat_{digest.hexdigest()[:32]}"

    def update(self, changes: Mapping[str, Any]) -> None:
        """Set lifetimes (whole seconds > 0) and redirect URLs; refuses anything else."""
        unknown = set(changes) - set(ADJUSTABLE)
        if unknown:
            raise SandboxError(
                f"cannot set {', '.join(sorted(unknown))}; settable: {', '.join(ADJUSTABLE)}"
            )
        for name, value in changes.items():
            if name == "redirect_urls":
                self.redirect_urls = _urls(value)
            else:
                setattr(self, name, _seconds(name, value))

    def settings(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return values | {"redirect_urls": list(self.redirect_urls), "scopes": list(self.scopes)}


def _urls(value: object) -> tuple[str, ...]:
    if isinstance(value, list | tuple) and all(isinstance(url, str) for url in value):
        return tuple(value)
    raise SandboxError("redirect_urls must be a list of URLs")


def _seconds(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 1:
        raise SandboxError(f"{name} must be a whole number of seconds, at least 1, got {value!r}")
    return int(value)
