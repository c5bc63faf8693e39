"""A bridge wired to in-memory platforms and a real store, for engine tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shopbridge.bootstrap import Shopbridge, bootstrap
from shopbridge.clock import ManualClock
from shopbridge.domain import events as ev
from shopbridge.domain.policy import Policy
from shopbridge.domain.tiktok_order import TikTokOrder
from shopbridge.engine.executors import ConnectionContext
from shopbridge.engine.runtime import policy_for
from shopbridge.engine.worker import RetryPolicy, Worker
from shopbridge.store import Store
from shopbridge_sandbox.fakes import FakeShopify, FakeTikTok


@dataclass
class World:
    store: Store
    clock: ManualClock
    tiktok: FakeTikTok = field(default_factory=FakeTikTok)
    shopify: FakeShopify = field(default_factory=lambda: FakeShopify({"TEE-RED-L": 10, "MUG": 5}))
    connection_id: int = 0
    forgotten: list[int] = field(default_factory=list)
    _service: Shopbridge | None = None

    def __post_init__(self) -> None:
        if not self.connection_id:
            self.connection_id = self.store.add_connection(
                name="Demo",
                tiktok_shop_id="7494049642642441621",
                shopify_domain="demo.myshopify.com",
            )

    # The ContextSource the service is bootstrapped with: every connection talks to the fakes.

    async def context(self, connection_id: int) -> ConnectionContext:
        policy = self.policy(connection_id)
        return ConnectionContext(connection_id, self.tiktok, self.shopify, policy, self.clock)

    def policy(self, connection_id: int) -> Policy:
        """Read per call, like a worker's runtime after a settings change."""
        return policy_for(self.store.get_connection(connection_id))

    def forget(self, connection_id: int) -> None:
        self.forgotten.append(connection_id)

    async def aclose(self) -> None:
        return None

    @property
    def service(self) -> Shopbridge:
        if self._service is None:
            self._service = bootstrap(store=self.store, clock=self.clock, contexts=self)
        return self._service

    def worker(self, name: str = "w1", **kw: Any) -> Worker:
        kw.setdefault("retry", RetryPolicy(max_attempts=3))
        kw.setdefault("reconcile_every", None)
        return self.service.worker(worker_id=name, seed=1, **kw)

    def observe(self, order: TikTokOrder) -> None:
        """TikTok's order changed and shopbridge heard of it (webhook then re-read)."""
        self.tiktok.put(order)
        self.apply(order.order_id, ev.TikTokOrderObserved(order))

    def apply(self, order_id: str, event: ev.Event) -> None:
        self.service.bridge.apply(self.connection_id, order_id, event)

    def mirror(self, order_id: str):  # type: ignore[no-untyped-def]
        row = self.store.get_mirror(self.connection_id, order_id)
        assert row is not None
        return row
