"""Every credential the sandbox's OAuth endpoints issued: codes, access and refresh tokens.

The rules it keeps (shopify_api_wave2.md §1.2, §1.4):
- an authorization code is used once, within 10 minutes, by the app it was issued to;
- a refresh rotates: a new access token and a new refresh token. Since 2026-08-28 the spent
  refresh token stays valid "until an app begins using its replacement", so a refresh whose
  answer was lost can be repeated; the sandbox revokes it when an access token obtained with
  it is first used on the Admin API. The old access token lives until its own expiry;
- uninstalling revokes everything at once, no grace period.

Lookups are dict hits: the Admin endpoint authenticates every request through here.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

CODE_LIFETIME = timedelta(minutes=10)
# UNCONFIRMED wording for 2026: it is what Shopify answered in 2016 (issue:
# nozzlegear/ShopifySharp#70), with HTTP 400.
CODE_NOT_FOUND = "The authorization code was not found or was already used"


class TokenRefused(Exception):
    """An OAuth request refused: the endpoint answers HTTP 400 `{error, error_description}`.

    `error` follows RFC 6749 §5.2 (`invalid_request`, `invalid_client`, `invalid_grant`,
    `unsupported_grant_type`); beyond `invalid_request` for a spent code, Shopify's exact
    codes and wording are UNCONFIRMED."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass(frozen=True)
class AuthorizationCode:
    value: str
    client_id: str
    shop: str  # the shop's name, as in `World.shops`
    scope: str
    expires_at: datetime


@dataclass(eq=False)
class RefreshToken:
    value: str
    shop: str
    scope: str
    expires_at: datetime
    revoked: bool = False


@dataclass(eq=False)
class AccessToken:
    value: str
    shop: str
    scope: str
    expires_at: datetime | None  # None: an offline token that never expires
    # The refresh token spent to obtain this one; it is revoked when this one is first used.
    replaces: RefreshToken | None = None
    revoked: bool = False

    def alive(self, now: datetime) -> bool:
        return not self.revoked and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True)
class Issued:
    """What one call of the token endpoint handed out."""

    access: AccessToken
    refresh: RefreshToken | None


class TokenLedger:
    """Not thread-safe by itself: callers hold the world's lock."""

    def __init__(self) -> None:
        self._codes: dict[str, AuthorizationCode] = {}
        self._access: dict[str, AccessToken] = {}
        self._refresh: dict[str, RefreshToken] = {}
        self._spent: dict[str, int] = {}  # refresh token -> pairs it bought

    def issue_code(self, client_id: str, shop: str, scope: str, now: datetime) -> str:
        code = AuthorizationCode(secrets.token_hex(16), client_id, shop, scope, now + CODE_LIFETIME)
        self._codes[code.value] = code
        return code.value

    def redeem_code(
        self, client_id: str, value: str, shop: str | None, now: datetime
    ) -> AuthorizationCode:
        """Spend a code; `shop`, when the request named one, must be the code's shop."""
        code = self._codes.get(value)
        if code is None or code.client_id != client_id or shop not in (None, code.shop):
            raise TokenRefused("invalid_request", CODE_NOT_FOUND)
        del self._codes[value]  # single use, even when it turns out to have expired
        if now >= code.expires_at:
            raise TokenRefused("invalid_request", CODE_NOT_FOUND)
        return code

    def issue(
        self,
        shop: str,
        scope: str,
        now: datetime,
        access_lifetime: int | None,
        refresh_lifetime: int | None = None,
        replaces: RefreshToken | None = None,
    ) -> Issued:
        """An access token (never expiring if `access_lifetime` is None) and, when
        `refresh_lifetime` is given, a refresh token."""
        expires_at = None if access_lifetime is None else now + timedelta(seconds=access_lifetime)
        access = AccessToken(f"shpat_{secrets.token_hex(16)}", shop, scope, expires_at, replaces)
        self._access[access.value] = access
        refresh = None
        if refresh_lifetime is not None:
            refresh = RefreshToken(
                f"shprt_{secrets.token_hex(16)}",
                shop,
                scope,
                now + timedelta(seconds=refresh_lifetime),
            )
            self._refresh[refresh.value] = refresh
        return Issued(access, refresh)

    def rotate(
        self,
        value: str,
        shop: str | None,
        now: datetime,
        access_lifetime: int,
        refresh_lifetime: int,
    ) -> Issued:
        """Spend a refresh token for a new pair; it stays usable until the new access token
        is first used, so a repeated refresh (a lost answer) gets another pair."""
        spent = self._refresh.get(value)
        if spent is None or shop not in (None, spent.shop):
            raise TokenRefused("invalid_grant", "The refresh token is not valid")
        if spent.revoked:
            raise TokenRefused("invalid_grant", "The refresh token has been revoked")
        if now >= spent.expires_at:
            raise TokenRefused("invalid_grant", "The refresh token has expired")
        # A fresh refresh-token lifetime on every rotation: UNCONFIRMED (use the answer's
        # refresh_token_expires_in, §1.2 step 5).
        self._spent[value] = self._spent.get(value, 0) + 1
        return self.issue(spent.shop, spent.scope, now, access_lifetime, refresh_lifetime, spent)

    def refreshes(self) -> dict[str, int]:
        """How many new pairs each spent refresh token bought (more than 1: a race, or an
        answer lost and asked again)."""
        return dict(self._spent)

    def authenticate(self, value: str, now: datetime) -> str | None:
        """The shop an Admin API request with this token acts for, or None if the token is
        unknown, expired or revoked. The first use of a refreshed token retires the refresh
        token spent to obtain it."""
        token = self._access.get(value)
        if token is None or not token.alive(now):
            return None
        if token.replaces is not None:
            token.replaces.revoked = True
            token.replaces = None
        return token.shop

    def revoke_shop(self, shop: str) -> None:
        """Uninstall: every code, access and refresh token of the shop dies at once."""
        tokens: list[AccessToken | RefreshToken] = [*self._access.values(), *self._refresh.values()]
        for token in tokens:
            if token.shop == shop:
                token.revoked = True
        for code in [c for c in self._codes.values() if c.shop == shop]:
            del self._codes[code.value]
