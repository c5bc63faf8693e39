"""Apps and what sellers granted them: auth codes, access and refresh tokens, deauthorization.

The rules (tiktok_shop_api_wave2.md §1.2, §1.3, §1.5):
- an auth code lives 30 minutes and is used once;
- an access token lives the app's `access_token_lifetime` (7 days unless a test shortens it);
- a refresh rotates: a new access token and a new refresh token. The docs are silent on the
  old ones (UNCONFIRMED); the sandbox takes the strict reading the spec advises planning for:
  the old access token stops working at once and the old refresh token is refused, so a
  client that lost a rotation finds out on its next call;
- the refresh token keeps the expiry of the original authorization (its "authorization
  duration", about a year here);
- a seller who deauthorizes a shop revokes the app's tokens for it; the sandbox then answers
  105001 for them (documented for creators only, UNCONFIRMED for sellers).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from datetime import timedelta

from shopbridge.clock import Clock
from shopbridge_sandbox.tiktok.errors import NotFound, SandboxError
from shopbridge_sandbox.tiktok.ids import IdFactory
from shopbridge_sandbox.tiktok.models import App, AuthCode, Grant

SELLER_DEAUTHORIZATION = 6  # the webhook type (wave2 §1.5)
REFRESH_TOKEN_LIFETIME = timedelta(days=365)
AUTH_CODE_LIFETIME = timedelta(minutes=30)


def service_id_for(app_key: str) -> str:
    """A 19-digit service id derived from the app key, so it is as stable as the key."""
    digits = str(int(hashlib.sha256(f"service:{app_key}".encode()).hexdigest(), 16))
    return "7" + digits[:18]


class GrantBook:
    def __init__(self, clock: Clock, ids: IdFactory, lock: threading.RLock) -> None:
        self.clock = clock
        self.ids = ids
        self.lock = lock
        self.apps: dict[str, App] = {}
        self.by_access_token: dict[str, Grant] = {}
        self.by_refresh_token: dict[str, Grant] = {}
        self._codes: dict[str, AuthCode] = {}
        self._authorized: set[tuple[str, str]] = set()  # (app_key, shop_id)
        self._spent_refresh_tokens: set[str] = set()
        self._deauthorized_tokens: set[str] = set()

    # -- apps ------------------------------------------------------------------------------

    def register_app(
        self,
        app_key: str | None = None,
        app_secret: str | None = None,
        redirect_url: str | None = None,
    ) -> App:
        with self.lock:
            key = app_key or self.ids.hex(14)
            known = self.apps.get(key)
            app = App(
                app_key=key,
                app_secret=app_secret or (known.app_secret if known else self.ids.hex(40)),
                service_id=service_id_for(key),
                redirect_url=redirect_url or (known.redirect_url if known else None),
            )
            self.apps[key] = app
            return app

    def app(self, app_key: str) -> App:
        try:
            return self.apps[app_key]
        except KeyError:
            raise NotFound(f"no app with app_key {app_key!r}") from None

    def app_by_service_id(self, service_id: str) -> App | None:
        return next((a for a in self.apps.values() if a.service_id == service_id), None)

    # -- grants ----------------------------------------------------------------------------

    def issue(self, app_key: str, shop_ids: Sequence[str]) -> Grant:
        with self.lock:
            now = self.clock.now()
            return self._store(
                Grant(
                    app_key=app_key,
                    shop_ids=tuple(shop_ids),
                    access_token=self.ids.token("TTP_"),
                    refresh_token=self.ids.token("TTP_"),
                    access_expires_at=now + self.app(app_key).access_token_lifetime,
                    refresh_expires_at=now + REFRESH_TOKEN_LIFETIME,
                    issued_at=now,
                )
            )

    def refresh(self, app_key: str, refresh_token: str) -> Grant:
        """Rotate: a new access and refresh token; the old pair stops working now."""
        with self.lock:
            old = self.by_refresh_token.get(refresh_token)
            if old is None or old.app_key != app_key:
                if refresh_token in self._spent_refresh_tokens:
                    raise NotFound("refresh_token has already been used; use the latest one")
                raise NotFound("refresh_token is invalid")
            now = self.clock.now()
            if now >= old.refresh_expires_at:
                raise SandboxError("refresh_token has expired; the seller must re-authorize")
            self._forget(old)
            self._spent_refresh_tokens.add(old.refresh_token)
            return self._store(
                Grant(
                    app_key=app_key,
                    shop_ids=old.shop_ids,
                    access_token=self.ids.token("TTP_"),
                    refresh_token=self.ids.token("TTP_"),
                    access_expires_at=now + self.app(app_key).access_token_lifetime,
                    refresh_expires_at=old.refresh_expires_at,
                    issued_at=now,
                )
            )

    def latest(self, app_key: str, shop_id: str) -> Grant | None:
        """The most recently issued live grant of the app that covers the shop."""
        with self.lock:
            grants = [
                g
                for g in self.by_access_token.values()
                if g.app_key == app_key and shop_id in g.shop_ids
            ]
            return max(grants, key=lambda g: g.issued_at, default=None)

    # -- the seller's side: approve, deauthorize -------------------------------------------

    def issue_code(self, app_key: str, shop_ids: Sequence[str]) -> str:
        with self.lock:
            self.app(app_key)
            if not shop_ids:
                raise SandboxError("an authorization needs at least one shop")
            code = self.ids.token("ROW_", 32)
            expires_at = self.clock.now() + AUTH_CODE_LIFETIME
            self._codes[code] = AuthCode(app_key, tuple(shop_ids), expires_at)
            return code

    def redeem_code(self, app_key: str, code: str) -> Grant:
        with self.lock:
            entry = self._codes.pop(code, None)  # single use
            if entry is None or entry.app_key != app_key:
                raise NotFound("auth_code is invalid or already used")
            if self.clock.now() >= entry.expires_at:
                raise SandboxError("auth_code has expired (30 minutes)")
            return self.issue(app_key, entry.shop_ids)

    def is_authorized(self, app_key: str, shop_id: str) -> bool:
        return (app_key, shop_id) in self._authorized

    def was_deauthorized(self, access_token: str) -> bool:
        return access_token in self._deauthorized_tokens

    def deauthorize(self, app_key: str, shop_id: str) -> bool:
        """The seller cancels the app's authorization of one shop: the shop leaves every
        grant of the app; a grant left with no shop is revoked. Returns whether the shop
        was authorized."""
        with self.lock:
            was = (app_key, shop_id) in self._authorized
            self._authorized.discard((app_key, shop_id))
            covering = [
                g
                for g in self.by_access_token.values()
                if g.app_key == app_key and shop_id in g.shop_ids
            ]
            for grant in covering:
                grant.shop_ids = tuple(s for s in grant.shop_ids if s != shop_id)
                if not grant.shop_ids:
                    self._forget(grant)
                    self._deauthorized_tokens.add(grant.access_token)
            return was

    def _store(self, grant: Grant) -> Grant:
        self.by_access_token[grant.access_token] = grant
        self.by_refresh_token[grant.refresh_token] = grant
        self._authorized.update((grant.app_key, shop_id) for shop_id in grant.shop_ids)
        return grant

    def _forget(self, grant: Grant) -> None:
        self.by_access_token.pop(grant.access_token, None)
        self.by_refresh_token.pop(grant.refresh_token, None)
