"""What every sandbox operation needs: the clock, id sequences, the shops, their tokens,
webhook emission.

One re-entrant lock guards all state; the HTTP app (on the server's thread) and the
Python API (on the test's thread) both take it around every operation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from shopbridge.clock import Clock
from shopbridge_sandbox.shopify.model import Ids, Shop
from shopbridge_sandbox.shopify.tokens import TokenLedger

Emit = Callable[[Shop, str, dict[str, Any]], None]


CANCEL_JOB_DELAY = timedelta(seconds=2)


class World:
    def __init__(self, clock: Clock, emit: Emit) -> None:
        self.clock = clock
        self.ids = Ids()
        self.shops: dict[str, Shop] = {}
        self.tokens = TokenLedger()
        self.lock = threading.RLock()
        self._emit = emit
        # How long an unpolled orderCancel job runs, in sandbox-clock time (on Shopify the order
        # shows cancelled a moment later). Zero: done on the next tick, as a manual clock that
        # nobody moves needs.
        self.cancel_job_delay = CANCEL_JOB_DELAY
        # Each shop's static token (an admin-created custom app's), until it is uninstalled.
        self._legacy_tokens: dict[str, Shop] = {}

    def now(self) -> datetime:
        return self.clock.now()

    def emit(self, shop: Shop, topic: str, payload: dict[str, Any]) -> None:
        """Send `topic` (REST form, e.g. `orders/create`) to the shop's subscribers."""
        self._emit(shop, topic, payload)

    def shop(self, name: str) -> Shop:
        try:
            return self.shops[name]
        except KeyError:
            raise SandboxError(f"no shop named {name!r}") from None

    def add_shop(self, shop: Shop) -> None:
        if shop.name in self.shops:
            raise SandboxError(f"shop {shop.name!r} already exists")
        self.shops[shop.name] = shop
        self._legacy_tokens[shop.access_token] = shop

    def shop_named_by_host(self, host: str | None) -> Shop | None:
        """The shop a request to `<name>.myshopify.com[:port]` is for, if the sandbox has it:
        one loopback address serves every shop, so the Host header is what tells them apart."""
        domain = (host or "").rsplit(":", 1)[0].lower()
        if not domain.endswith(".myshopify.com"):
            return None
        return self.shops.get(domain.removesuffix(".myshopify.com"))

    def shop_by_token(self, token: str | None) -> Shop | None:
        """The installed shop an Admin API token acts for: its static token or any issued,
        unexpired, unrevoked one; None otherwise (the endpoint answers 401)."""
        if not token:
            return None
        with self.lock:
            shop = self._legacy_tokens.get(token)
            if shop is None:
                name = self.tokens.authenticate(token, self.now())
                shop = self.shops.get(name) if name is not None else None
            return shop if shop is not None and shop.installed else None

    def revoke_all_tokens(self, shop: Shop) -> None:
        """Uninstall revokes every token at once, the static one included [§1.4]."""
        with self.lock:
            self._legacy_tokens.pop(shop.access_token, None)
            self.tokens.revoke_shop(shop.name)


class SandboxError(ValueError):
    """A Python-API or control-API call the sandbox cannot honour (bad shop, sku, state)."""


class NotFound(SandboxError):
    """The call names a SKU or location the shop does not have (the control API answers 404)."""


class Conflict(SandboxError):
    """The store's state refuses the call, e.g. a sold-out DENY variant (control API: 409)."""
