"""A scripted stream of TikTok orders through every workflow path, acted out over HTTP.

The scenario plays the buyer and TikTok (through the TikTok sandbox's control API), the merchant
in the Shopify admin (through the Shopify sandbox's) and the merchant answering requests in
shopbridge (a `Merchant`: the bridge in-process, or the web UI over HTTP in a rehearsal). It knows
nothing of how shopbridge works: it only acts, at the times its script says, and skips an act the
platforms refuse (the order moved on differently), noting it. The demo runs it on a scaled clock,
the end-to-end tests on a manual clock with faults on, a rehearsal across processes.
"""

from __future__ import annotations

import asyncio
import heapq
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import httpx

from shopbridge_sandbox.driver import LIMITS, Refused, ShopifyDriver, TikTokDriver

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
    "two SKUs, one cancelled inside the holdback",
    "two SKUs, one cancelled after release",
    "two SKUs shipped in two boxes",
    "packed with another order of the buyer, shipped once",
    "delivered, then returned and refunded",
)
MULTI_ITEM = {10: 2, 11: 2, 12: 2, 13: 1, 14: 2}  # path -> units of the first SKU
# The merchant and the carrier look again every 10 minutes, for up to 8 hours, on the
# multi-item paths, whose acts wait on one another (ship, deliver, return, refund).
LOOK_AGAIN = 48
CARRIERS = {6: "UPS", 7: "Bonshaw", 8: "Bonshaw"}
MINUTE = timedelta(minutes=1)


class Merchant(Protocol):
    """The merchant answering a buyer's cancellation request in shopbridge."""

    async def approve_cancellation(self, order_id: str, cancel_id: str) -> str | None:
        """None when shopbridge took the answer, else its refusal in words."""


class NotYet(Exception):
    """An act that cannot happen yet (shopbridge has not listed the request, say): try later."""


@dataclass(order=True)
class Act:
    due: datetime
    seq: int
    name: str = field(compare=False)
    order_key: int = field(compare=False)
    run: Callable[[], Awaitable[None]] = field(compare=False)
    tries: int = field(default=6, compare=False)


RESTOCK = 30  # units a delivery brings in the middle of the demo's day


@dataclass
class Scenario:
    tiktok: TikTokDriver
    shop_id: str
    shopify: ShopifyDriver
    shop_name: str
    merchant: Merchant
    skus: tuple[str, ...] = ("TEE-RED-L", "MUG-BLUE")
    orders: dict[int, str] = field(default_factory=dict)  # order number -> TikTok order id
    # Orders the buyers placed besides the planned ones (a second order packed with the first).
    extra_orders: list[str] = field(default_factory=list)
    paths: dict[int, int] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)
    # Sales in the merchant's own Shopify channels, and restocks: TikTok must follow them.
    store_sales: Counter[str] = field(default_factory=Counter)
    restocks: list[str] = field(default_factory=list)
    _acts: list[Act] = field(default_factory=list)
    _seq: int = 0

    def plan(self, count: int, start: datetime, spread: timedelta) -> None:
        """Script `count` orders, their creations spread over `spread` from `start`."""
        for n in range(count):
            path = n % len(PATHS)
            self.paths[n] = path
            created = start + spread * (n / max(1, count))
            self._script(n, path, created)

    def plan_store_day(self, sales: int, start: datetime, spread: timedelta) -> None:
        """The merchant's own shop trades too: `sales` storefront and POS sales spread over
        `spread`, and a delivery restocking the first SKU halfway through."""
        for n in range(sales):
            sku = self.skus[n % len(self.skus)]
            channel = "pos" if n % 3 == 2 else "online_store"
            when = start + spread * ((n + 0.5) / max(1, sales))
            self._at(-1, when, f"{channel} sale", self._sale(sku, channel), tries=1)

        async def restock() -> None:
            await self.shopify.adjust(self.shop_name, self.skus[0], RESTOCK)
            self.restocks.append(f"+{RESTOCK} {self.skus[0]}")

        self._at(-1, start + spread / 2, "restock", restock, tries=1)

    def _sale(self, sku: str, channel: str) -> Callable[[], Awaitable[None]]:
        async def sell() -> None:
            await self.shopify.sell(self.shop_name, sku, channel=channel)
            self.store_sales[channel] += 1

        return sell

    async def due_acts(self, now: datetime, concurrency: int = 1) -> int:
        """Perform every act due by `now` (up to `concurrency` at once, in due order); returns
        how many ran."""
        due: list[Act] = []
        while self._acts and self._acts[0].due <= now:
            due.append(heapq.heappop(self._acts))
        if not due:
            return 0
        limit = asyncio.Semaphore(concurrency)

        async def perform(act: Act) -> None:
            async with limit:
                await self._perform(act, now)

        if concurrency == 1:
            for act in due:
                await self._perform(act, now)
        else:
            await asyncio.gather(*(perform(act) for act in due))
        return len(due)

    async def _perform(self, act: Act, now: datetime) -> None:
        try:
            await act.run()
        except NotYet as later:
            if act.tries > 1:
                self._at(act.order_key, now + 10 * MINUTE, act.name, act.run, act.tries - 1)
            else:
                self.skipped[f"{act.name}: {later}"[:160]] += 1
        except Exception as error:  # the platforms refused: the story took another turn
            self.skipped[f"{act.name}: {_short(error)}"[:160]] += 1

    @property
    def finished(self) -> bool:
        return not self._acts

    @property
    def next_due(self) -> datetime | None:
        return self._acts[0].due if self._acts else None

    # -- the script --------------------------------------------------------------------------

    def _at(
        self,
        n: int,
        when: datetime,
        name: str,
        run: Callable[[], Awaitable[None]],
        tries: int = 6,
    ) -> None:
        self._seq += 1
        heapq.heappush(self._acts, Act(when, self._seq, name, n, run, tries))

    def _script(self, n: int, path: int, created: datetime) -> None:
        items = {self.skus[0]: 1 + n % 2, self.skus[1]: 1} if n % 3 else {self.skus[0]: 1}
        if path in MULTI_ITEM:
            items = {self.skus[0]: MULTI_ITEM[path], self.skus[1]: 1}
        tiktok = self.tiktok

        async def create() -> None:
            self.orders[n] = await tiktok.create_order(self.shop_id, items, on_hold_flow=path != 2)

        self._at(n, created, "create order", create)

        def oid() -> str:  # the id exists only once the create act ran
            if n not in self.orders:
                raise LookupError("the order was never created")
            return self.orders[n]

        def on_order(act: Callable[[str], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                await act(oid())

            return run

        if path == 0:
            return  # TikTok's own timer cancels it after 24 h
        paid_at = created + 10 * MINUTE
        if path == 9:
            self._at(n, created + 3 * MINUTE, "payment fails", on_order(tiktok.fail_payment))
            self._at(n, created + 6 * MINUTE, "payment fails", on_order(tiktok.fail_payment))
        self._at(n, paid_at, "buyer pays", on_order(tiktok.pay))
        if path == 3:
            self._at(n, paid_at + 20 * MINUTE, "buyer cancels", on_order(tiktok.buyer_cancel))
        if path == 4:
            self._at(n, paid_at + 30 * MINUTE, "fraud cancel", on_order(tiktok.fraud_cancel))
        if path == 5:
            requested: dict[str, str] = {}

            async def request() -> None:
                requested["id"] = await tiktok.request_cancellation(oid())

            async def approve() -> None:
                if "id" not in requested:
                    raise LookupError("the buyer never asked")
                refusal = await self.merchant.approve_cancellation(oid(), requested["id"])
                if refusal is not None and "no pending" in refusal:
                    # The merchant answers the requests shopbridge lists; not listed yet.
                    raise NotYet(refusal)
                if refusal is not None:
                    raise RuntimeError(refusal)

            self._at(n, paid_at + 80 * MINUTE, "buyer requests cancel", request)
            self._at(n, paid_at + 90 * MINUTE, "merchant approves", approve)
        if path in CARRIERS:
            company = CARRIERS[path]

            async def fulfil() -> None:
                order_id = oid()
                live = [
                    o
                    for o in await self.shopify.orders(self.shop_name, source_identifier=order_id)
                    if not o["cancelled_at"]
                ]
                if not live:
                    raise NotYet("not mirrored yet")
                try:
                    await self.shopify.fulfill(
                        self.shop_name, live[0]["id"], company, f"1Z{order_id[-16:]}"
                    )
                except Refused as refused:  # still on hold: the merchant looks again later
                    raise NotYet(str(refused)) from None

            self._at(n, paid_at + 100 * MINUTE, "merchant fulfils", fulfil)
        if path == 8:
            self._at(n, paid_at + 115 * MINUTE, "TikTok cancels", on_order(tiktok.fraud_cancel))
        if path in MULTI_ITEM:
            self._script_items(n, path, paid_at, oid)

    def _script_items(self, n: int, path: int, paid_at: datetime, oid: Callable[[], str]) -> None:
        """The multi-item paths: partial cancels, boxes, a combined package, a return."""
        tiktok, first, second = self.tiktok, self.skus[0], self.skus[1]

        async def unit_of(sku: str, order_id: str | None = None) -> str:
            order = await tiktok.order(order_id or oid())
            for line in order["line_items"]:
                if line["seller_sku"] == sku and line.get("display_status") != "CANCELLED":
                    return str(line["id"])
            raise LookupError(f"no live unit of {sku}")

        def cancel_one(sku: str, role: str) -> Callable[[], Awaitable[None]]:
            async def cancel() -> None:
                await tiktok.cancel_items(oid(), [await unit_of(sku)], role)

            return cancel

        async def shopify_order(order_id: str) -> str:
            live = [
                o
                for o in await self.shopify.orders(self.shop_name, source_identifier=order_id)
                if not o["cancelled_at"]
            ]
            if not live:
                raise NotYet("not mirrored yet")
            return str(live[0]["id"])

        def box(
            units: dict[str, int] | None, order_id: Callable[[], str] = oid
        ) -> Callable[[], Awaitable[None]]:
            async def fulfil() -> None:
                tiktok_id = order_id()
                try:
                    await self.shopify.fulfill(
                        self.shop_name,
                        await shopify_order(tiktok_id),
                        "USPS",
                        f"94001118992231{tiktok_id[-8:]}",
                        units,
                    )
                except Refused as refused:  # still on hold: the merchant looks again later
                    raise NotYet(str(refused)) from None

            return fulfil

        if path == 10:
            self._at(
                n, paid_at + 20 * MINUTE, "seller cancels one item", cancel_one(second, "SELLER")
            )
        if path == 11:
            self._at(
                n, paid_at + 80 * MINUTE, "TikTok cancels one item", cancel_one(first, "SYSTEM")
            )
        if path == 12:
            self._at(
                n, paid_at + 90 * MINUTE, "merchant ships box 1", box({first: 2}), tries=LOOK_AGAIN
            )
            self._at(n, paid_at + 110 * MINUTE, "merchant ships box 2", box(None), tries=LOOK_AGAIN)
        if path == 13:
            other: dict[str, str] = {}

            async def second_order() -> None:
                other["id"] = await tiktok.create_order(self.shop_id, {second: 1})
                self.extra_orders.append(other["id"])
                await tiktok.pay(other["id"])

            async def combine() -> None:
                if "id" not in other:
                    raise LookupError("the buyer's second order was never placed")
                for order_id in (oid(), other["id"]):
                    if (await tiktok.order(order_id))["status"] != "AWAITING_SHIPMENT":
                        raise NotYet("TikTok combines orders awaiting shipment only")
                await tiktok.combine(self.shop_id, [oid(), other["id"]])

            def other_id() -> str:
                if "id" not in other:
                    raise LookupError("the buyer's second order was never placed")
                return other["id"]

            self._at(n, paid_at, "buyer orders again", second_order, tries=LOOK_AGAIN)
            self._at(
                n, paid_at + 75 * MINUTE, "TikTok combines both orders", combine, tries=LOOK_AGAIN
            )
            self._at(
                n, paid_at + 90 * MINUTE, "merchant ships order 1", box(None), tries=LOOK_AGAIN
            )
            self._at(
                n,
                paid_at + 91 * MINUTE,
                "merchant ships order 2",
                box(None, other_id),
                tries=LOOK_AGAIN,
            )
        if path == 14:
            returned: dict[str, str] = {}

            async def delivered() -> None:
                if (await tiktok.order(oid()))["status"] != "AWAITING_COLLECTION":
                    raise NotYet("not shipped yet")
                await tiktok.collect(oid())
                await tiktok.deliver(oid())

            async def asks_return() -> None:
                if (await tiktok.order(oid()))["status"] != "DELIVERED":
                    raise NotYet("not delivered yet")
                returned["id"] = await tiktok.create_return(oid(), [await unit_of(second)])

            async def refunded() -> None:
                if "id" not in returned:
                    raise NotYet("the buyer has not asked for a return yet")
                await tiktok.advance_return(returned["id"], "COMPLETE")

            self._at(n, paid_at + 80 * MINUTE, "merchant ships", box(None), tries=LOOK_AGAIN)
            self._at(n, paid_at + 95 * MINUTE, "carrier delivers", delivered, tries=LOOK_AGAIN)
            self._at(
                n,
                paid_at + 100 * MINUTE,
                "buyer asks to return one item",
                asks_return,
                tries=LOOK_AGAIN,
            )
            self._at(
                n, paid_at + 115 * MINUTE, "TikTok refunds the return", refunded, tries=LOOK_AGAIN
            )


class WebMerchant:
    """The merchant answering in shopbridge's web UI over HTTP, as a browser would."""

    _CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
    _FLASH = re.compile(r'<p class="flash flash-(\w+)"[^>]*data-testid="flash">([^<]*)</p>')

    def __init__(self, base_url: str, connection_id: int, email: str, password: str) -> None:
        self.connection_id = connection_id
        self._credentials = (email, password)
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=30.0, follow_redirects=True, limits=LIMITS
        )
        self._logged_in = False

    async def aclose(self) -> None:
        await self._http.aclose()

    async def approve_cancellation(self, order_id: str, cancel_id: str) -> str | None:
        try:
            return await self._approve(order_id, cancel_id)
        except httpx.TransportError as error:  # shopbridge is restarting: try again later
            self._logged_in = False
            raise NotYet(f"the web UI is not answering ({type(error).__name__})") from None

    async def _approve(self, order_id: str, cancel_id: str) -> str | None:
        if not self._logged_in:
            await self._log_in()
        page = f"/connections/{self.connection_id}/orders/{order_id}"
        token = await self._token(page)
        answer = await self._http.post(
            f"{page}/cancellation/approve", data={"csrf_token": token, "cancel_id": cancel_id}
        )
        if answer.status_code >= 500:
            raise NotYet(f"the web UI answered {answer.status_code}")
        if answer.status_code >= 400:
            return f"the web UI answered {answer.status_code}"
        for level, text in self._FLASH.findall(answer.text):
            if level == "error":
                return _unescape(text)
        return None

    async def _log_in(self) -> None:
        email, password = self._credentials
        token = await self._token("/login")
        answer = await self._http.post(
            "/login", data={"email": email, "password": password, "csrf_token": token, "next": "/"}
        )
        answer.raise_for_status()
        self._logged_in = True

    async def _token(self, page: str) -> str:
        html = (await self._http.get(page)).text
        found = self._CSRF.search(html)
        if found is None:
            raise NotYet(f"{page} shows no form yet")
        return found.group(1)


def _unescape(text: str) -> str:
    return (
        text.replace("&#39;", "'").replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
    ).replace("&amp;", "&")


def _short(error: BaseException) -> str:
    return str(error) or type(error).__name__
