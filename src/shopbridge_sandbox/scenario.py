"""A scripted stream of TikTok orders through every workflow path, acted out on the sandboxes.

The scenario plays the buyer and TikTok (on the TikTok sandbox), the merchant in the Shopify
admin (on the Shopify sandbox) and the merchant answering requests in shopbridge (through the
bridge). It knows nothing of how shopbridge works: it only acts, at the times its script says,
and skips an act the platforms refuse (the order moved on differently), noting it. The demo
runs it on a scaled clock; the end-to-end tests run it on a manual clock with faults on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from shopbridge.domain import events as ev
from shopbridge.domain.transition import Decision
from shopbridge.store import Store
from shopbridge_sandbox.shopify import ShopifySandbox
from shopbridge_sandbox.tiktok import TikTokSandbox

PATHS = (
    "unpaid, cancelled by TikTok after 24 h",
    "paid via ON_HOLD, released after the holdback",
    "paid straight to AWAITING_SHIPMENT, released",
    "buyer cancel inside the holdback",
    "fraud cancel inside the holdback",
    "cancellation request after release, approved",
    "released, fulfilled with tracking (UPS)",
    "released, fulfilled with an unsupported carrier",
    "fulfilled, then cancelled by TikTok",
    "payment failed twice, then paid and released",
)
CARRIERS = {6: "UPS", 7: "Bonshaw", 8: "Bonshaw"}

MerchantAction = Callable[[str, ev.Event], Decision]


@dataclass(order=True)
class Act:
    due: datetime
    seq: int
    name: str = field(compare=False)
    order_key: int = field(compare=False)
    run: Callable[[], None] = field(compare=False)


@dataclass
class Scenario:
    tiktok: TikTokSandbox
    shop_id: str
    shopify: ShopifySandbox
    shop_name: str
    store: Store
    connection_id: int
    merchant: MerchantAction
    skus: tuple[str, ...] = ("TEE-RED-L", "MUG-BLUE")
    orders: dict[int, str] = field(default_factory=dict)  # order number -> TikTok order id
    paths: dict[int, int] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)
    _acts: list[Act] = field(default_factory=list)
    _now: datetime = field(default_factory=lambda: datetime.min.replace(tzinfo=UTC))

    def plan(self, count: int, start: datetime, spread: timedelta) -> None:
        """Script `count` orders, their creations spread over `spread` from `start`."""
        for n in range(count):
            path = n % len(PATHS)
            self.paths[n] = path
            created = start + spread * (n / max(1, count))
            self._script(n, path, created)
        self._acts.sort()

    def due_acts(self, now: datetime) -> int:
        """Perform every act due by `now`; returns how many ran."""
        ran = 0
        self._now = now
        while self._acts and self._acts[0].due <= now:
            act = self._acts.pop(0)
            try:
                act.run()
            except Exception as error:  # the platforms refused: the story took another turn
                self.skipped[f"{act.name}: {error}"[:160]] += 1
            ran += 1
        return ran

    @property
    def finished(self) -> bool:
        return not self._acts

    # -- the script --------------------------------------------------------------------------

    def _at(self, n: int, when: datetime, name: str, run: Callable[[], None]) -> None:
        self._acts.append(Act(when, len(self._acts), name, n, run))

    def _script(self, n: int, path: int, created: datetime) -> None:
        minute = timedelta(minutes=1)
        items = {self.skus[0]: 1 + n % 2, self.skus[1]: 1} if n % 3 else {self.skus[0]: 1}

        def create() -> None:
            self.orders[n] = self.tiktok.create_order(self.shop_id, items, on_hold_flow=path != 2)

        self._at(n, created, "create order", create)

        def oid() -> str:  # the id exists only once the create act ran
            return self.orders[n]

        if path == 0:
            return  # TikTok's own timer cancels it after 24 h
        paid_at = created + 10 * minute
        if path == 9:
            self._at(
                n, created + 3 * minute, "payment fails", lambda: self.tiktok.fail_payment(oid())
            )
            self._at(
                n, created + 6 * minute, "payment fails", lambda: self.tiktok.fail_payment(oid())
            )
        self._at(n, paid_at, "buyer pays", lambda: self.tiktok.pay(oid()))
        if path == 3:
            self._at(
                n, paid_at + 20 * minute, "buyer cancels", lambda: self.tiktok.buyer_cancel(oid())
            )
        if path == 4:
            self._at(
                n, paid_at + 30 * minute, "fraud cancel", lambda: self.tiktok.fraud_cancel(oid())
            )
        if path == 5:
            requested: dict[str, str] = {}

            def request() -> None:
                requested["id"] = self.tiktok.request_cancellation(oid())

            def approve(tries: int = 6) -> None:
                decision = self.merchant(
                    oid(), ev.MerchantApprovedCancellation(requested["id"], "demo")
                )
                if decision.refusal and "no pending" in decision.refusal and tries > 1:
                    # The merchant answers the requests shopbridge lists; not listed yet.
                    later = self._now + 10 * minute
                    self._at(n, later, "merchant approves", lambda: approve(tries - 1))
                    self._acts.sort()
                    return
                if decision.refusal:
                    raise RuntimeError(decision.refusal)

            self._at(n, paid_at + 120 * minute, "buyer requests cancel", request)
            self._at(n, paid_at + 140 * minute, "merchant approves", approve)
        if path in CARRIERS:
            company = CARRIERS[path]

            def fulfil() -> None:
                row = self.store.get_mirror(self.connection_id, oid())
                if row is None or row.shopify_order_id is None:
                    raise LookupError("not mirrored yet")
                self.shopify.fulfill_order(
                    self.shop_name, row.shopify_order_id, company, f"1Z{oid()[-16:]}"
                )

            self._at(n, paid_at + 180 * minute, "merchant fulfils", fulfil)
        if path == 8:
            self._at(
                n, paid_at + 200 * minute, "TikTok cancels", lambda: self.tiktok.fraud_cancel(oid())
            )
