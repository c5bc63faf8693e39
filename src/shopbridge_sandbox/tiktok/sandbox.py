"""`TikTokSandbox`: the marketplace, its order desk, the webhook pusher and the ASGI app."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount, Route

from shopbridge.clock import Clock, SystemClock
from shopbridge_sandbox.faults import Faults
from shopbridge_sandbox.tiktok import (
    catalog_api,
    events_api,
    external_api,
    orders_api,
    packages_api,
    returns_api,
)
from shopbridge_sandbox.tiktok.authorize_page import authorization_link, authorize_routes
from shopbridge_sandbox.tiktok.control import control_routes
from shopbridge_sandbox.tiktok.errors import NotFound, SandboxError
from shopbridge_sandbox.tiktok.gateway import ApiGateway
from shopbridge_sandbox.tiktok.grants import SELLER_DEAUTHORIZATION
from shopbridge_sandbox.tiktok.ids import IdFactory
from shopbridge_sandbox.tiktok.models import ShopCredentials, SkuSpec
from shopbridge_sandbox.tiktok.oauth import token_routes
from shopbridge_sandbox.tiktok.orders import ORDER_STATUS_CHANGE, OrderDesk, unix
from shopbridge_sandbox.tiktok.ratelimit import RateLimiter
from shopbridge_sandbox.tiktok.returns import DEFAULT_REASON, ReturnDesk
from shopbridge_sandbox.tiktok.signing import webhook_authorization
from shopbridge_sandbox.tiktok.state import Marketplace
from shopbridge_sandbox.tiktok.views import cancellation_view, order_view, package_view, return_view
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
        redirect_url: str | None = None,
        access_token_lifetime: timedelta | float | None = None,
        rate_limit_per_second: int = 50,
        rate_limit_clock: Callable[[], float] = time.monotonic,
        webhook_cancel_spelling: str = "CANCEL",
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.faults = faults or Faults()
        self.ids = IdFactory(self.faults.seed)
        self.market = Marketplace(self.clock, self.ids)
        self.app_key = self.market.grants.register_app(app_key, app_secret, redirect_url).app_key
        if access_token_lifetime is not None:
            self.configure_app(access_token_lifetime=access_token_lifetime)
        # §2.5: the webhook topic page spells it CANCEL, the order API CANCELLED (UNCONFIRMED
        # which one webhooks really send), so the sandbox sends CANCEL unless told otherwise.
        self.webhook_cancel_spelling = webhook_cancel_spelling
        self.notifications: list[dict[str, Any]] = []
        self.desk = OrderDesk(self.market, self._notify)
        self.returns = ReturnDesk(self.market, self.desk.packages, self._notify)
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
            [
                *orders_api.ROUTES,
                *packages_api.ROUTES,
                *returns_api.ROUTES,
                *catalog_api.ROUTES,
                *events_api.ROUTES,
                *external_api.ROUTES,
            ],
        )
        methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]
        self.app = Starlette(
            routes=[
                Mount("/_sandbox", routes=control_routes(self)),
                *token_routes(self.market),
                *authorize_routes(self.market),
                Route("/{path:path}", self.gateway.handle, methods=methods),
            ],
            lifespan=self._lifespan,
        )

    @property
    def app_secret(self) -> str:
        return self.market.grants.app(self.app_key).app_secret

    # -- the app and what sellers grant it -------------------------------------------------

    def app_settings(self, app_key: str | None = None) -> dict[str, Any]:
        """The app's key, secret, service id, redirect URL, access-token lifetime (seconds)
        and the path of its authorization link."""
        with self.market.lock:
            app = self.market.grants.app(app_key or self.app_key)
            return {
                "app_key": app.app_key,
                "app_secret": app.app_secret,
                "service_id": app.service_id,
                "redirect_url": app.redirect_url,
                "access_token_lifetime": app.access_token_lifetime.total_seconds(),
                "authorization_url": authorization_link(app),
            }

    def configure_app(
        self,
        app_key: str | None = None,
        *,
        redirect_url: str | None = None,
        access_token_lifetime: timedelta | float | None = None,
    ) -> dict[str, Any]:
        """Set where approvals redirect to, and how long access tokens issued from now on live
        (a few seconds lets a multi-process test see 105002 without a manual clock)."""
        with self.market.lock:
            app = self.market.grants.app(app_key or self.app_key)
            if redirect_url is not None:
                if not redirect_url.startswith(("http://", "https://")):
                    raise ValueError(f"redirect_url must be an http(s) URL, got {redirect_url!r}")
                app.redirect_url = redirect_url
            if access_token_lifetime is not None:
                app.access_token_lifetime = _lifetime(access_token_lifetime)
            return self.app_settings(app.app_key)

    def authorization_url(self, state: str | None = None) -> str:
        """The path of the seller authorization link (`/open/authorize?service_id=…`)."""
        with self.market.lock:
            return authorization_link(self.market.grants.app(self.app_key), state)

    def deauthorize(self, shop_id: str, app_key: str | None = None) -> None:
        """The seller cancels the app's authorization of the shop (Seller Center → My apps):
        its tokens stop working (105001) and a type 6 SELLER_DEAUTHORIZATION webhook goes out
        (wave2 §1.5); no other webhook of the shop reaches the app until it is authorized
        again."""
        with self.market.lock:
            self.market.shop(shop_id)
            key = app_key or self.app_key
            if not self.market.grants.deauthorize(key, shop_id):
                raise SandboxError(f"shop {shop_id} has not authorized app {key}")
            message = f"Shop_id {shop_id} is deauthorized from your APP by merchant."
            self._notify(shop_id, SELLER_DEAUTHORIZATION, {"message": message}, app_key=key)

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
            grant = self.market.grants.issue(self.app_key, [shop.id])
            return self._credentials(shop.id, grant.access_token, grant.refresh_token)

    def _credentials(self, shop_id: str, access_token: str, refresh_token: str) -> ShopCredentials:
        shop = self.market.shop(shop_id)
        return ShopCredentials(
            app_key=shop.app_key,
            app_secret=self.market.grants.app(shop.app_key).app_secret,
            access_token=access_token,
            refresh_token=refresh_token,
            shop_id=shop.id,
            shop_cipher=shop.cipher,
            region=shop.region,
            name=shop.name,
        )

    def credentials(self, shop_id: str) -> ShopCredentials:
        """The shop's credentials with its most recently issued live tokens."""
        with self.market.lock:
            latest = self.market.grants.latest(self.market.shop(shop_id).app_key, shop_id)
            if latest is None:
                raise NotFound(f"no grant for shop {shop_id!r}")
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
        with self.market.lock:
            self.market.shop(shop_id)
            return self.market.grants.issue_code(self.app_key, [shop_id])

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

    def stock(self, shop_id: str, seller_sku: str) -> dict[str, Any]:
        """The SKU's stock: `available` (total), `warehouses` (warehouse id -> available),
        `committed` (total units held by open orders) and `promotion_locked`."""
        with self.market.lock:
            self._apply_due()
            sku = self.market.sku(shop_id, seller_sku)
            return {
                "seller_sku": sku.seller_sku,
                "available": sum(sku.available.values()),
                "warehouses": dict(sku.available),
                "committed": sum(sku.committed.values()),
                "promotion_locked": sku.promotion_locked,
            }

    def promotion_lock(self, shop_id: str, seller_sku: str, locked: bool = True) -> None:
        """A campaign locks (or releases) the SKU: while locked, Update Inventory may not lower
        its stock in any warehouse (12052393, wave2 §3.1)."""
        if not isinstance(locked, bool):
            raise ValueError(f"locked must be true or false, got {locked!r}")
        with self.market.lock:
            self.market.sku(shop_id, seller_sku).promotion_locked = locked

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

    def cancel_items(
        self,
        order_id: str,
        line_item_ids: Sequence[str],
        role: str = "SYSTEM",
        reason: str | None = None,
    ) -> str:
        """TikTok (SYSTEM, OPERATOR) or the seller (SELLER) cancels these units (wave2 §4);
        every live unit named cancels the whole order. Returns the cancel_id."""
        with self.market.lock:
            self._apply_due()
            return self.desk.cancel_items(order_id, line_item_ids, role, reason).id

    # -- packages: TikTok's splits and combines (wave2 §5.2) ---------------------------------

    def combine_packages(self, shop_id: str, order_ids: Sequence[str]) -> str:
        """Packs every live unit of these AWAITING_SHIPMENT orders into one new package
        (PACKAGE_UPDATE sc_type COMBINE); returns its id."""
        with self.market.lock:
            self._apply_due()
            return self.desk.packages.combine(shop_id, order_ids).id

    def uncombine_package(self, package_id: str) -> list[str]:
        """Dissolves a combined package that has not shipped (sc_type CANCEL_COMBINE); returns
        the ids of the orders it held."""
        with self.market.lock:
            self._apply_due()
            return list(self.desk.packages.uncombine(package_id).order_ids)

    def split_order(self, order_id: str, groups: Sequence[Sequence[str]]) -> list[str]:
        """A new pre-shipping package per group of line item ids (sc_type SPLIT); the groups
        hold every live unit once. Returns the package ids, in the groups' order."""
        with self.market.lock:
            self._apply_due()
            return [p.id for p in self.desk.packages.split(order_id, groups)]

    def package(self, package_id: str) -> dict[str, Any]:
        """The package as Get Package Detail returns it."""
        with self.market.lock:
            self._apply_due()
            package = self.market.package(package_id)
            orders = [self.market.order(order_id) for order_id in package.order_ids]
            return package_view(package, orders, self.market.shop(package.shop_id))

    # -- returns (wave2 §6) ------------------------------------------------------------------

    def create_return(
        self,
        order_id: str,
        line_item_ids: Sequence[str],
        return_type: str = "RETURN_AND_REFUND",
        reason: str = DEFAULT_REASON,
    ) -> str:
        """The buyer asks to return (RETURN_AND_REFUND, once DELIVERED) or be refunded for
        (REFUND, from AWAITING_COLLECTION) these shipped units; returns the return_id."""
        with self.market.lock:
            self._apply_due()
            return self.returns.create(order_id, line_item_ids, return_type, reason).id

    def advance_return(self, return_id: str, status: str) -> None:
        """Moves the return to `status` along its real path; `COMPLETE` walks every step left
        (each one notified)."""
        with self.market.lock:
            self._apply_due()
            self.returns.advance(return_id, status)

    def return_record(self, return_id: str) -> dict[str, Any]:
        """The return as Search Returns lists it."""
        with self.market.lock:
            self._apply_due()
            request = self.market.return_request(return_id)
            order = self.market.order(request.order_id)
            return return_view(request, order, self.market.shop(order.shop_id))

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

    def _notify(
        self, shop_id: str, topic: int, data: dict[str, Any], app_key: str | None = None
    ) -> None:
        shop = self.market.shop(shop_id)
        app = self.market.grants.app(app_key or shop.app_key)
        if topic != SELLER_DEAUTHORIZATION and not self.market.grants.is_authorized(
            app.app_key, shop.id
        ):
            return  # a deauthorized app hears nothing more from the shop
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
            "Authorization": webhook_authorization(app.app_key, app.app_secret, body),
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


def _lifetime(value: timedelta | float) -> timedelta:
    lifetime = value if isinstance(value, timedelta) else timedelta(seconds=float(value))
    if lifetime <= timedelta(0):
        raise ValueError(f"a token lifetime must be positive, got {value!r}")
    return lifetime
