"""What every sandbox operation needs: the clock, id sequences, the shops, webhook emission.

One re-entrant lock guards all state; the HTTP app (on the server's thread) and the
Python API (on the test's thread) both take it around every operation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from shopbridge.clock import Clock
from shopbridge_sandbox.shopify.model import Ids, Shop

Emit = Callable[[Shop, str, dict[str, Any]], None]


class World:
    def __init__(self, clock: Clock, emit: Emit) -> None:
        self.clock = clock
        self.ids = Ids()
        self.shops: dict[str, Shop] = {}
        self.lock = threading.RLock()
        self._emit = emit

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

    def shop_by_token(self, token: str | None) -> Shop | None:
        if not token:
            return None
        return next(
            (s for s in self.shops.values() if s.installed and s.access_token == token), None
        )


class SandboxError(ValueError):
    """A Python-API or control-API call the sandbox cannot honour (bad shop, sku, state)."""
