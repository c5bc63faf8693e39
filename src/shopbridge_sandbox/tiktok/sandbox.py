"""`TikTokSandbox`: the marketplace, its order desk, the webhook pusher and the ASGI app."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount, Route

from shopbridge.clock import Clock, SystemClock
from shopbridge_sandbox.faults import Faults
from shopbridge_sandbox.tiktok import catalog_api, events_api, external_api, orders_api
from shopbridge_sandbox.tiktok.control import control_routes
from shopbridge_sandbox.tiktok.errors import NotFound
from shopbridge_sandbox.tiktok.gateway import ApiGateway
from shopbridge_sandbox.tiktok.ids import IdFactory
from shopbridge_sandbox.tiktok.models import ShopCredentials, SkuSpec
from shopbridge_sandbox.tiktok.oauth import token_routes
from shopbridge_sandbox.tiktok.orders import ORDER_STATUS_CHANGE, OrderDesk, unix
from shopbridge_sandbox.tiktok.ratelimit import RateLimiter
from shopbridge_sandbox.tiktok.signing import webhook_authorization
from shopbridge_sandbox.tiktok.state import Marketplace
from shopbridge_sandbox.tiktok.views import cancellation_view, order_view
from shopbridge_sandbox.webhooks import Delivery, WebhookDispatcher

# §2.1: retries 2 min after the first failure, then 30 min, 3 h and 12 h; nothing after.
WEBHOOK_RETRY_DELAYS = (
    timedelta(minutes=2),
    timedelta(minutes=30),
    timedelta(hours=3),
    timedelta(hours=12),
)
WEBHOOK_REPLY_DEADLINE_SECONDS = 3.0  # §2.1: "HTTP 200 ... within 3 seconds"
BACKGROUND_POLL_SECONDS = 0.05

log = logging.getLogger(__name__)


class TikTokSandbox:
    """A TikTok Shop Open API (202309) on loopback, with a Python and an HTTP control surface."""

    def __init__(
        self,
        clock: Clock | None = None,
        faults: Faults | None = None,
        *,
        app_key: str | None = None,
        app_secret: str | None = None,
        rate_limit_per_second: int = 50,
        rate_limit_clock: Callable[[], float] = time.monotonic,
        webhook_cancel_spelling: str = "CANCEL",
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.faults = faults or Faults()
        self.ids = IdFactory(self.faults.seed)
        self.market = Marketplace(self.clock, self.ids)
        self.app_key = self.market.register_app(app_key, app_secret)
        # §2.5: the webhook topic page spells it CANCEL, the order API CANCELLED (UNCONFIRMED
        # which one webhooks really send), so the sandbox sends CANCEL unless told otherwise.
        self.webhook_cancel_spelling = webhook_cancel_spelling
        self.notifications: list[dict[str, Any]] = []
        self.desk = OrderDesk(self.market, self._notify)
        self.dispatcher = WebhookDispatcher(
            self.clock, self.faults, WEBHOOK_RETRY_DELAYS, WEBHOOK_REPLY_DEADLINE_SECONDS
        )
        self.rate_limiter = RateLimiter(rate_limit_per_second, monotonic=rate_limit_clock)
        self._pump_lock = threading.Lock()
        self.gateway = ApiGateway(
            self.market,
            self.desk,
            self.faults,
            self.rate_limiter,
            [*orders_api.ROUTES, *catalog_api.ROUTES, *events_api.ROUTES, *external_api.ROUTES],
        )
        methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]
        self.app = Starlette(
            routes=[
                Mount("/_sandbox", routes=control_routes(self)),
                *token_routes(self.market),
                Route("/{path:path}", self.gateway.handle, methods=methods),
            ],
            lifespan=self._lifespan,
        )

    @property
    def app_secret(self) -> str:
        return self.market.apps[self.app_key]

    # -- shops and catalogue ---------------------------------------------------------------

    def add_shop(
        self,
        name: str = "Demo US",
        region: str = "US",
        webhook_url: str | None = None,
        warehouses: Iterable[str] = (),
    ) -> ShopCredentials:
        """A shop authorized for the sandbox's app; `warehouses` names them (default one)."""
        with self.market.lock:
            shop = self.market.add_shop(name, region, self.app_key, webhook_url, warehouses)
            grant = self.market.issue_grant(self.app_key, shop.id)
            return self._credentials(shop.id, grant.access_token, grant.refresh_token)

    def _credentials(self, shop_id: str, access_token: str, refresh_token: str) -> ShopCredentials:
        shop = self.market.shop(shop_id)
        return ShopCredentials(
            app_key=shop.app_key,
            app_secret=self.market.apps[shop.app_key],
            access_token=access_token,
            refresh_token=refresh_token,
            shop_id=shop.id,
            shop_cipher=shop.cipher,
            region=shop.region,
            name=shop.name,
        )

    def credentials(self, shop_id: str) -> ShopCredentials:
        """The shop's credentials with its most recently issued access token."""
        with self.market.lock:
            grants = [
                g for g in self.market.grants_by_access_token.values() if g.shop_id == shop_id
            ]
            if not grants:
                raise NotFound(f"no grant for shop {shop_id!r}")
            latest = max(grants, key=lambda g: g.access_expires_at)
            return self._credentials(shop_id, latest.access_token, latest.refresh_token)

    def set_webhook_url(self, shop_id: str, url: str | None) -> None:
        """Where every topic goes unless the Event API set a per-topic address."""
        with self.market.lock:
            self.market.shop(shop_id).webhook_url = url

    def shop_ids(self) -> list[str]:
        with self.market.lock:
            return list(self.market.shops)

    def warehouse_ids(self, shop_id: str) -> list[str]:
        with self.market.lock:
            return [w.id for w in self.market.shop(shop_id).warehouses]

    def delivery_option_id(self, shop_id: str) -> str:
        return self.market.shop(shop_id).delivery_option_id

    def issue_auth_code(self, shop_id: str) -> str:
        """What the seller's redirect would carry after authorizing the app (§5 step 2)."""
        return self.market.issue_auth_code(shop_id, self.app_key)

    def add_product(self, shop_id: str, title: str, skus: Iterable[SkuSpec]) -> str:
        with self.market.lock:
            return self.market.add_product(shop_id, title, skus).id

    def sku_id(self, shop_id: str, seller_sku: str) -> str:
        with self.market.lock:
            return self.market.sku(shop_id, seller_sku).id

    def inventory(self, shop_id: str, seller_sku: str) -> int:
        """Total available (sellable) units of the SKU across its warehouses."""
        with self.market.lock:
            self._apply_due()
            return sum(self.market.sku(shop_id, seller_sku).available.values())

    # -- orders: the buyer's and the platform's side ---------------------------------------

    def create_order(
        self,
        shop_id: str,
        items: Mapping[str, int],
        paid: bool = False,
        on_hold_flow: bool | None = None,
    ) -> str:
        """An order for `items` (seller_sku -> units), reserving stock; paid at once if `paid`.
        `on_hold_flow` defaults to the shop's region (ON_HOLD exists in US and UK only)."""
        with self.market.lock:
            self._apply_due()
            order = self.desk.create(shop_id, items, on_hold_flow)
            if paid:
                self.desk.pay(order.id)
            return order.id

    def pay(self, order_id: str) -> None:
        with self.market.lock:
            self._apply_due()
            self.desk.pay(order_id)

    def fail_payment(self, order_id: str) -> None:
        with self.market.lock:
            self._apply_due()
            self.desk.fail_payment(order_id)

    def buyer_cancel(self, order_id: str) -> None:
        """Free cancel while UNPAID, ON_HOLD or in the remorse hour; SandboxError otherwise."""
        with self.market.lock:
            self._apply_due()
            self.desk.buyer_cancel(order_id)

    def fraud_cancel(self, order_id: str) -> None:
        with self.market.lock:
            self._apply_due()
            self.desk.fraud_cancel(order_id)

    def request_cancellation(self, order_id: str) -> str:
        """A buyer's cancellation request after the remorse hour; returns its cancel_id."""
        with self.market.lock:
            self._apply_due()
            return self.desk.request_cancellation(order_id).id

    def carrier_collect(self, order_id: str) -> None:
        """The carrier picked the parcel up: AWAITING_COLLECTION -> IN_TRANSIT."""
        with self.market.lock:
            self._apply_due()
            self.desk.carrier_collect(order_id)

    def deliver(self, order_id: str) -> None:
        """IN_TRANSIT -> DELIVERED."""
        with self.market.lock:
            self._apply_due()
            self.desk.deliver(order_id)

    def order(self, order_id: str) -> dict[str, Any]:
        """The order exactly as Get Order Detail would return it."""
        with self.market.lock:
            self._apply_due()
            order = self.market.order(order_id)
            return order_view(order, self.market.shop(order.shop_id))

    def orders(self, shop_id: str, updated_since: int | None = None) -> list[dict[str, Any]]:
        """The shop's orders as Get Order Detail returns them, by update_time then id; with
        `updated_since` (Unix seconds) only those whose update_time is at or after it."""
        with self.market.lock:
            self._apply_due()
            shop = self.market.shop(shop_id)
            found = sorted(
                (
                    o
                    for o in self.market.orders.values()
                    if o.shop_id == shop_id
                    and (updated_since is None or unix(o.update_time) >= updated_since)
                ),
                # The shown (whole-second) update_time, so a reader can check the order.
                key=lambda o: (unix(o.update_time), o.id),
            )
            return [order_view(o, shop) for o in found]

    def order_ids(self, shop_id: str | None = None) -> list[str]:
        """Every order id (of one shop if given), oldest first."""
        with self.market.lock:
            self._apply_due()
            orders = sorted(self.market.orders.values(), key=lambda o: (o.create_time, o.id))
            return [o.id for o in orders if shop_id is None or o.shop_id == shop_id]

    def cancellation(self, cancel_id: str) -> dict[str, Any]:
        with self.market.lock:
            self._apply_due()
            request = self.market.cancellation(cancel_id)
            order = self.market.order(request.order_id)
            return cancellation_view(request, order, self.market.shop(order.shop_id))

    # -- time and webhooks -----------------------------------------------------------------

    def _apply_due(self) -> int:
        return self.desk.apply_due(self.clock.now())

    def apply_timers(self) -> int:
        with self.market.lock:
            return self._apply_due()

    async def tick(self) -> int:
        """Fires every timer due at clock.now(), then sends every webhook due; returns how
        many deliveries were attempted."""
        self.apply_timers()
        return await self.pump_webhooks(wait=True)

    async def pump_webhooks(self, wait: bool = True) -> int:
        # One pump at a time across threads: the app's loop and a test's loop share deliveries.
        if wait:
            while not self._pump_lock.acquire(blocking=False):  # noqa: ASYNC110 - a thread lock
                await asyncio.sleep(0.002)
        elif not self._pump_lock.acquire(blocking=False):
            return 0
        try:
            return await self.dispatcher.pump()
        finally:
            self._pump_lock.release()

    def deliveries(self) -> list[Delivery]:
        return list(self.dispatcher.deliveries)

    def _notify(self, shop_id: str, topic: int, data: dict[str, Any]) -> None:
        shop = self.market.shop(shop_id)
        if topic == ORDER_STATUS_CHANGE and data["order_status"] == "CANCELLED":
            data = {**data, "order_status": self.webhook_cancel_spelling}
        envelope = {
            "type": topic,
            "tts_notification_id": self.ids.numeric("74"),
            "shop_id": shop.id,
            "timestamp": unix(self.clock.now()),
            "data": data,
        }
        self.notifications.append(envelope)
        body = json.dumps(envelope, separators=(",", ":")).encode()
        headers = {
            "Authorization": webhook_authorization(
                shop.app_key, self.market.apps[shop.app_key], body
            ),
            "Content-Type": "application/json",
            "User-Agent": "TikTokShop-Webhook-Sandbox",
        }
        per_topic = shop.event_webhooks.get(events_api.TOPIC_EVENT_TYPES.get(topic, ""))
        url = per_topic[0] if per_topic else shop.webhook_url
        self.dispatcher.enqueue(url, body, headers)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(self._run_background(stop))
        try:
            yield
        finally:
            stop.set()
            await task

    async def _run_background(self, stop: asyncio.Event) -> None:
        """Timers and webhook pushes keep running in clock time while the app serves."""
        while not stop.is_set():
            try:
                self.apply_timers()
                await self.pump_webhooks(wait=False)
            except Exception:  # one bad timer or webhook must not stop the rest
                log.exception("tiktok sandbox: background step failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=BACKGROUND_POLL_SECONDS)
