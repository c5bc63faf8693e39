"""Shopify's authorization-code, refresh and client-credentials grants, and signed query
strings (shopify_api_wave2.md §1.1, §1.2).

Query signing is §1.2 step 1 read backwards: drop `hmac` and `signature`, sort the other
keys, join them as `k=v&k2=v2` with the values as they are (not URL-encoded), HMAC-SHA256
with the client secret, hex digest. Every value the sandbox itself puts in a signed query
(code, host, shop, timestamp) is URL-safe, so only an app's own `state` could tell an
encoding apart from the raw form; the raw form is what most verifiers sign.

Callers hold the world's lock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from shopbridge_sandbox.shopify.model import Shop
from shopbridge_sandbox.shopify.partner_app import PartnerApp
from shopbridge_sandbox.shopify.tokens import Issued, TokenRefused
from shopbridge_sandbox.shopify.world import SandboxError, World

ONLINE_ACCESS = "per-user"


def query_hmac(params: Mapping[str, str], secret: str) -> str:
    message = "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in ("hmac", "signature"))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signed_url(url: str, params: Mapping[str, str], secret: str) -> str:
    """`url` with `params` added and an `hmac` over every parameter it then carries, its own
    included (a verifier signs all it receives); a repeated key counts as its values joined
    by `,`."""
    parts = urlsplit(url)
    pairs = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    values: dict[str, list[str]] = {}
    for key, value in pairs:
        values.setdefault(key, []).append(value)
    signature = query_hmac({k: ",".join(v) for k, v in values.items()}, secret)
    return urlunsplit(parts._replace(query=urlencode([*pairs, ("hmac", signature)])))


def admin_host(shop: Shop) -> str:
    """The `host` parameter: base64url of the shop's admin address, unpadded, as Shopify
    sends it since the unified admin (admin.shopify.com/store/<name>)."""
    raw = f"admin.shopify.com/store/{shop.name}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def install_request_url(world: World, app: PartnerApp, shop: Shop, app_url: str) -> str:
    """What Shopify opens when a merchant installs the app from the admin: the app URL with
    a signed `hmac, host, shop, timestamp` (§1.2 step 1)."""
    params = {
        "host": admin_host(shop),
        "shop": shop.domain,
        "timestamp": str(int(world.now().timestamp())),
    }
    return signed_url(app_url, params, app.client_secret)


def refusal(app: PartnerApp, client_id: str, redirect_uri: str, grant_options: str) -> str | None:
    """Why the authorize page must not offer to install, or None if it may."""
    if client_id != app.client_id:
        return f"Unknown client_id {client_id!r}: the sandbox's app is {app.client_id!r}"
    if not redirect_uri:
        return "redirect_uri is missing"
    if not app.allows_redirect(redirect_uri):
        allowed = ", ".join(app.redirect_urls)
        return f"redirect_uri {redirect_uri!r} is not an allowed redirection URL ({allowed})"
    if grant_options == ONLINE_ACCESS:
        return "online (per-user) access tokens are not simulated; ask for offline access"
    return None


def grant_code(world: World, app: PartnerApp, shop: Shop, scope: str | None) -> str:
    """The merchant approved: the app is installed (again, after an uninstall) and gets a
    one-time code for the scopes it asked for (the app's own list if it asked for none)."""
    shop.installed = True
    granted = scope or ",".join(app.scopes)
    return world.tokens.issue_code(app.client_id, shop.name, granted, world.now())


def approve_install(
    world: World, app: PartnerApp, shop: Shop, scope: str, redirect_uri: str, state: str | None
) -> str:
    """The merchant pressed Install; returns where the browser goes next: the app's
    callback with the code, signed."""
    params = {
        "code": grant_code(world, app, shop, scope),
        "host": admin_host(shop),
        "shop": shop.domain,
        "timestamp": str(int(world.now().timestamp())),
    }
    if state is not None:
        params["state"] = state
    return signed_url(redirect_uri, params, app.client_secret)


def token_request(
    world: World, app: PartnerApp, fields: Mapping[str, str], host_shop: Shop | None
) -> dict[str, Any]:
    """`POST /admin/oauth/access_token`: the answer body, or TokenRefused."""
    if fields.get("client_id") != app.client_id or not hmac.compare_digest(
        fields.get("client_secret", "").encode(), app.client_secret.encode()
    ):
        raise TokenRefused("invalid_client", "Client authentication failed")  # UNCONFIRMED
    grant_type = fields.get("grant_type", "")
    shop_hint = host_shop.name if host_shop else None
    if grant_type == "refresh_token":
        return _refresh(world, app, fields.get("refresh_token", ""), shop_hint)
    if grant_type == "client_credentials":
        return _client_credentials(world, app, host_shop or _named_shop(world, fields))
    if grant_type in ("", "authorization_code"):
        return _exchange_code(world, app, fields, shop_hint)
    raise TokenRefused(
        "unsupported_grant_type",
        f"grant_type {grant_type!r} is not simulated; the sandbox has authorization_code, "
        "refresh_token and client_credentials",
    )


def _exchange_code(
    world: World, app: PartnerApp, fields: Mapping[str, str], shop_hint: str | None
) -> dict[str, Any]:
    code = world.tokens.redeem_code(app.client_id, fields.get("code", ""), shop_hint, world.now())
    if fields.get("expiring", "0") in ("1", "true"):
        issued = world.tokens.issue(
            code.shop,
            code.scope,
            world.now(),
            app.access_token_lifetime,
            app.refresh_token_lifetime,
        )
        return _expiring_answer(app, issued)
    issued = world.tokens.issue(code.shop, code.scope, world.now(), access_lifetime=None)
    return {"access_token": issued.access.value, "scope": issued.access.scope}


def _refresh(
    world: World, app: PartnerApp, refresh_token: str, shop_hint: str | None
) -> dict[str, Any]:
    issued = world.tokens.rotate(
        refresh_token,
        shop_hint,
        world.now(),
        app.access_token_lifetime,
        app.refresh_token_lifetime,
    )
    return _expiring_answer(app, issued)


def _client_credentials(world: World, app: PartnerApp, shop: Shop) -> dict[str, Any]:
    if not shop.installed:
        # Only for apps installed in the organization's own stores (§1.1); wording UNCONFIRMED.
        raise TokenRefused("invalid_request", f"The app is not installed on {shop.domain}")
    issued = world.tokens.issue(
        shop.name, ",".join(app.scopes), world.now(), app.client_credentials_lifetime
    )
    return {
        "access_token": issued.access.value,
        "scope": issued.access.scope,
        "expires_in": app.client_credentials_lifetime,
    }


def _expiring_answer(app: PartnerApp, issued: Issued) -> dict[str, Any]:
    assert issued.refresh is not None
    return {
        "access_token": issued.access.value,
        "scope": issued.access.scope,
        "expires_in": app.access_token_lifetime,
        "refresh_token": issued.refresh.value,
        "refresh_token_expires_in": app.refresh_token_lifetime,
    }


def _named_shop(world: World, fields: Mapping[str, str]) -> Shop:
    """The shop a request names in its `shop` field (name or domain), else the only one."""
    name = fields.get("shop", "").removesuffix(".myshopify.com")
    try:
        return only_or_named_shop(world, name or None)
    except SandboxError as error:
        raise TokenRefused("invalid_request", str(error)) from None


def only_or_named_shop(world: World, name: str | None) -> Shop:
    if name:
        return world.shop(name)
    if len(world.shops) == 1:
        return next(iter(world.shops.values()))
    raise SandboxError(
        f"the sandbox has {len(world.shops)} shops: say which one "
        "(a <name>.myshopify.com Host header or a shop field)"
    )
