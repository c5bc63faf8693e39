"""A bridge wired to in-memory platforms and a real store, for engine tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from shopbridge.clock import ManualClock
from shopbridge.domain import events as ev
from shopbridge.domain.policy import Policy
from shopbridge.domain.tiktok_order import TikTokOrder
from shopbridge.engine.executors import ConnectionContext
from shopbridge.engine.inbox import PlatformInboxHandler
from shopbridge.engine.worker import RetryPolicy, Worker
from shopbridge.store import Store
from shopbridge_sandbox.fakes import FakeShopify, FakeTikTok


@dataclass
class World:
    store: Store
    clock: ManualClock
    tiktok: FakeTikTok = field(default_factory=FakeTikTok)
    shopify: FakeShopify = field(default_factory=lambda: FakeShopify({"TEE-RED-L": 10, "MUG": 5}))
    policy: Policy = field(default_factory=Policy)
    connection_id: int = 0

    def __post_init__(self) -> None:
        if not self.connection_id:
            self.connection_id = self.store.add_connection(
                name="Demo",
                tiktok_shop_id="7494049642642441621",
                shopify_domain="demo.myshopify.com",
            )

    def context(self, connection_id: int) -> ConnectionContext:
        return ConnectionContext(connection_id, self.tiktok, self.shopify, self.policy, self.clock)

    def worker(self, name: str = "w1", **kw: object) -> Worker:
        kw.setdefault("retry", RetryPolicy(max_attempts=3))
        return Worker(
            self.store,
            self.clock,
            self.context,
            PlatformInboxHandler(self.store, self.context),
            worker_id=name,
            seed=1,
            **kw,  # type: ignore[arg-type]
        )

    def observe(self, order: TikTokOrder) -> None:
        """TikTok's order changed and shopbridge heard of it (webhook then re-read)."""
        self.tiktok.put(order)
        self.apply(order.order_id, ev.TikTokOrderObserved(order))

    def apply(self, order_id: str, event: ev.Event) -> None:
        self.worker("observer").bridge.apply(self.connection_id, order_id, event)

    def mirror(self, order_id: str):  # type: ignore[no-untyped-def]
        row = self.store.get_mirror(self.connection_id, order_id)
        assert row is not None
        return row
