"""`ShopifySandbox`: the stores, their HTTP app, and the merchant-side Python API."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from shopbridge.clock import Clock, SystemClock
from shopbridge_sandbox.faults import Faults
from shopbridge_sandbox.shopify import checkout, fulfillment, inventory, oauth, orders, rest
from shopbridge_sandbox.shopify.app import build_app
from shopbridge_sandbox.shopify.cost import PLANS, LeakyBucket
from shopbridge_sandbox.shopify.model import (
    InventoryItem,
    Location,
    Order,
    Product,
    Shop,
    Variant,
    gid,
    iso,
    money,
)
from shopbridge_sandbox.shopify.partner_app import PartnerApp
from shopbridge_sandbox.shopify.schema import admin_schema
from shopbridge_sandbox.shopify.specs import StoreCredentials, VariantSpec
from shopbridge_sandbox.shopify.webhooks import ShopifyWebhooks, subscribe, subscription_view
from shopbridge_sandbox.shopify.world import NotFound, SandboxError, World


class ShopifySandbox:
    """Shopify stores behind the Admin GraphQL API 2026-07, for tests and the demo.

    `app` is the ASGI app; serve it with `shopbridge_sandbox.serving.BackgroundServer`. While it is
    served, `run_in_background` finishes due jobs and delivers due webhooks every 50 ms
    (`auto_deliver=False` leaves that to `await tick()`).

    `partner_app` is the one app whose client id and secret the OAuth endpoints accept
    (default: stable credentials, `partner_app.DEFAULT_CLIENT_ID` / `DEFAULT_CLIENT_SECRET`).
    """

    def __init__(
        self,
        clock: Clock | None = None,
        faults: Faults | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        auto_deliver: bool = True,
        partner_app: PartnerApp | None = None,
        cancel_job_delay: timedelta | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.partner_app = partner_app or PartnerApp()
        self.faults = faults or Faults()
        self.webhooks = ShopifyWebhooks(self.clock, self.faults)
        self.world = World(self.clock, self.webhooks.emit)
        if cancel_job_delay is not None:
            self.world.cancel_job_delay = cancel_job_delay
        self.throttle_status_code = 200  # Shopify answers THROTTLED with 200 or 429 (§8)
        self.auto_deliver = auto_deliver
        self._monotonic = monotonic
        self._buckets: dict[str, LeakyBucket] = {}
        self._server_loop: asyncio.AbstractEventLoop | None = None
        admin_schema()  # pay the ~3 s schema build now, not on the first request
        self.app = build_app(self)

    # --- shops and catalogue -------------------------------------------------------

    def add_shop(
        self,
        name: str,
        plan: str = "standard",
        locations: Sequence[str] = ("Main warehouse",),
        access_token: str | None = None,
        client_secret: str | None = None,
    ) -> StoreCredentials:
        """An installed shop. Its static `access_token` (an admin-created custom app's, §1.3)
        defaults to one derived from the app secret and the name, so it is the same on every
        start; webhooks are signed with the app's client secret unless `client_secret` says."""
        if plan not in PLANS:
            raise SandboxError(f"unknown plan {plan!r}; known: {', '.join(PLANS)}")
        if not locations:
            raise SandboxError("a shop needs at least one location")
        with self.world.lock:
            if name in self.world.shops:
                raise SandboxError(f"shop {name!r} already exists")
            ids = self.world.ids
            shop = Shop(
                name=name,
                plan=plan,
                access_token=access_token or self.partner_app.legacy_token(name),
                client_secret=client_secret or self.partner_app.client_secret,
                locations=[Location(ids.next("Location"), n) for n in locations],
                id=ids.next("Shop"),
            )
            self.world.add_shop(shop)
            maximum, rate = PLANS[plan]
            self._buckets[name] = LeakyBucket(maximum, rate, self._monotonic)
            return self.credentials(name)

    def credentials(self, shop_name: str) -> StoreCredentials:
        shop = self.world.shop(shop_name)
        return StoreCredentials(
            shop.name,
            shop.domain,
            shop.access_token,
            shop.client_secret,
            shop.plan,
            tuple(loc.gid for loc in shop.locations),
        )

    def add_product(
        self, shop_name: str, title: str, variants: Sequence[VariantSpec]
    ) -> dict[str, Any]:
        """Create a product; returns its id and, per SKU, variant and inventory item ids."""
        with self.world.lock:
            shop = self.world.shop(shop_name)
            taken = [v.sku for v in variants if shop.variant_by_sku(v.sku)]
            if taken:
                raise SandboxError(f"SKU already in {shop_name}: {', '.join(taken)}")
            ids, now = self.world.ids, self.world.now()
            product = Product(ids.next("Product"), title, now)
            for spec in variants:
                item = InventoryItem(ids.next("InventoryItem"), spec.sku, now, tracked=spec.tracked)
                variant = Variant(
                    ids.next("ProductVariant"),
                    product,
                    spec.title or spec.sku,
                    spec.sku,
                    Decimal(str(spec.price)),
                    spec.inventory_policy,
                    item,
                    now,
                )
                item.variant = variant
                product.variants.append(variant)
                level = inventory.level_for(self.world, shop, item, shop.locations[0])
                level.quantities["available"] = spec.available
            shop.products.append(product)
            return {
                "id": product.gid,
                "variants": {
                    v.sku: {"id": v.gid, "inventory_item_id": v.inventory_item.gid}
                    for v in product.variants
                },
            }

    def add_location(self, shop_name: str, name: str) -> str:
        """A new active location (names are unique per shop, as in the admin); returns its id.
        Nothing is stocked there until stock is set or adjusted at it."""
        if not isinstance(name, str) or not name.strip():
            raise SandboxError(f"a location needs a name, got {name!r}")
        with self.world.lock:
            shop = self.world.shop(shop_name)
            if any(loc.name == name for loc in shop.locations):
                raise SandboxError(f"{shop_name} already has a location named {name!r}")
            location = Location(self.world.ids.next("Location"), name)
            shop.locations.append(location)
            return location.gid

    def subscribe_webhook(self, shop_name: str, topic: str, url: str) -> str:
        """Subscribe `url` to `topic` (`orders/create` or `ORDERS_CREATE`); returns its id."""
        with self.world.lock:
            return subscribe(self.world, self.world.shop(shop_name), topic, url).gid

    def uninstall_app(self, shop_name: str) -> None:
        """The merchant uninstalls the app (§1.4, §1.5): every token and refresh token dies at
        once, app/uninstalled goes to the subscribers, then the subscriptions are deleted."""
        with self.world.lock:
            shop = self.world.shop(shop_name)
            shop.installed = False
            self.world.revoke_all_tokens(shop)
            self.world.emit(shop, "app/uninstalled", rest.shop(shop))
            shop.subscriptions.clear()

    def token_refreshes(self) -> dict[str, int]:
        """Per spent refresh token, how many new token pairs it bought (see TokenLedger)."""
        with self.world.lock:
            return self.world.tokens.refreshes()

    def webhook_subscriptions(self, shop_name: str) -> list[dict[str, Any]]:
        """The shop's API-created subscriptions, oldest first."""
        with self.world.lock:
            return [subscription_view(s) for s in self.world.shop(shop_name).subscriptions]

    def delete_webhook_subscription(self, shop_name: str, subscription_id: str) -> str:
        """Drop a subscription as Shopify does after repeated failed deliveries (§2.3);
        `subscription_id` is numeric or a gid. Returns the gid."""
        with self.world.lock:
            shop = self.world.shop(shop_name)
            wanted = subscription_id
            if not wanted.startswith("gid://"):
                wanted = f"gid://shopify/WebhookSubscription/{wanted}"
            found = shop.find(shop.subscriptions, wanted, "WebhookSubscription")
            if found is None:
                raise SandboxError(f"no webhook subscription {subscription_id} in {shop_name}")
            shop.subscriptions.remove(found)
            gid: str = found.gid
            return gid

    # --- the app: credentials, install and tokens ------------------------------------

    def app_settings(self) -> dict[str, Any]:
        """The app's client id and secret, scopes, redirect URLs and token lifetimes."""
        with self.world.lock:
            return self.partner_app.settings()

    def configure_app(self, **changes: Any) -> dict[str, Any]:
        """Change `redirect_urls` or the `*_lifetime`s (seconds) for tokens issued from now
        on, e.g. `configure_app(access_token_lifetime=5)`; returns the settings."""
        with self.world.lock:
            self.partner_app.update(changes)
            return self.partner_app.settings()

    def install_request_url(self, app_url: str, shop_name: str) -> str:
        """The signed URL Shopify opens when the merchant installs from the admin:
        `app_url?hmac&host&shop&timestamp` (§1.2 step 1)."""
        with self.world.lock:
            shop = self.world.shop(shop_name)
            return oauth.install_request_url(self.world, self.partner_app, shop, app_url)

    def issue_authorization_code(self, shop_name: str, scope: str | None = None) -> str:
        """What pressing Install on the approval page gives the app's callback: a code for
        `POST /admin/oauth/access_token` (and the shop is installed)."""
        with self.world.lock:
            shop = self.world.shop(shop_name)
            return oauth.grant_code(self.world, self.partner_app, shop, scope)

    # --- merchant actions in the admin -----------------------------------------------

    def _order(self, shop: Shop, order_id: str) -> Order:
        order = shop.order_by_gid(order_id)
        if order is None:
            raise SandboxError(f"no order {order_id} in {shop.name}")
        return order

    def fulfill_order(
        self,
        shop_name: str,
        order_id: str,
        company: str | None = None,
        number: str | None = None,
        url: str | None = None,
        units: Mapping[str, int] | None = None,
    ) -> str:
        """Fulfil every open fulfillment order of the order with tracking, or only `units`
        (SKU -> quantity) of it: one box, as the admin's "Fulfill items" does; returns its id."""
        with self.world.lock:
            shop = self.world.shop(shop_name)
            order = self._order(shop, order_id)
            entries: list[tuple[Any, list[tuple[str, int]] | None]] = []
            left = dict(units or {})
            for fo in order.fulfillment_orders:
                if not any(li.remaining_quantity for li in fo.line_items):
                    continue
                if units is None:
                    entries.append((fo, None))
                    continue
                picked = []
                for li in fo.line_items:
                    take = min(li.remaining_quantity, left.get(li.line_item.sku or "", 0))
                    if take > 0:
                        picked.append((li.gid, take))
                        left[li.line_item.sku or ""] -= take
                if picked:
                    entries.append((fo, picked))
            if not entries:
                raise SandboxError(f"order {order.name} has nothing left to fulfil")
            tracking = (
                {"company": company, "number": number, "url": url}
                if (company or number or url)
                else None
            )
            created, errors = fulfillment.create_fulfillment(self.world, shop, entries, tracking)
            if created is None:
                raise SandboxError("; ".join(e.message for e in errors))
            return created.gid

    def update_tracking(
        self, shop_name: str, fulfillment_id: str, company: str | None, number: str
    ) -> None:
        """The merchant corrects a fulfilment's tracking in the admin (fulfillments/update)."""
        with self.world.lock:
            shop = self.world.shop(shop_name)
            found = shop.find(
                [f for o in shop.orders for f in o.fulfillments], fulfillment_id, "Fulfillment"
            )
            if found is None:
                raise SandboxError(f"no fulfillment {fulfillment_id} in {shop.name}")
            fulfillment.update_tracking(
                self.world, shop, found, {"company": company, "number": number}
            )

    def close_order(self, shop_name: str, order_id: str, closed: bool = True) -> None:
        """The merchant archives (closes) the order in the admin, or reopens it: a closed
        order can no longer be edited (merchantEditableErrors)."""
        with self.world.lock:
            shop = self.world.shop(shop_name)
            order = self._order(shop, order_id)
            order.closed_at = self.world.now() if closed else None
            order.updated_at = self.world.now()

    def cancel_order_as_merchant(
        self, shop_name: str, order_id: str, reason: str = "OTHER", restock: bool = True
    ) -> None:
        """Cancel at once, as from the admin (no job); emits orders/cancelled."""
        with self.world.lock:
            shop = self.world.shop(shop_name)
            order = self._order(shop, order_id)
            refusal = orders.cancel_refusal(order)
            if refusal is not None:
                raise SandboxError(refusal.message)
            orders.cancel_order(self.world, shop, order, reason, restock)

    def adjust_stock(
        self, shop_name: str, sku: str, delta: int, location_id: str | int | None = None
    ) -> dict[str, int]:
        """Change `available` (and so on_hand) by `delta` at the location (default the first),
        stocking the item there first if it was not; emits inventory_levels/update."""
        with self.world.lock:
            shop = self.world.shop(shop_name)
            variant = self._variant(shop, sku)
            location = self._location(shop, location_id)
            level = inventory.level_for(self.world, shop, variant.inventory_item, location)
            inventory.move(self.world, shop, level, available=delta)
            return self.inventory(shop_name, sku, location.gid)

    def set_available(
        self, shop_name: str, sku: str, available: int, location_id: str | int | None = None
    ) -> dict[str, int]:
        """The merchant types a new available count in the admin (default: first location),
        stocking the item there first if it was not; inventory_levels/update goes out once,
        and only if the count changed."""
        if isinstance(available, bool) or not isinstance(available, int):
            raise SandboxError(f"available must be a whole number, got {available!r}")
        if available < 0:
            # As inventorySetQuantities refuses it (INVALID_QUANTITY_NEGATIVE).
            raise SandboxError(f"available can't be negative, got {available}")
        with self.world.lock:
            shop = self.world.shop(shop_name)
            variant = self._variant(shop, sku)
            location = self._location(shop, location_id)
            level = inventory.level_for(self.world, shop, variant.inventory_item, location)
            delta = available - level.quantity("available")
            if delta:
                inventory.move(self.world, shop, level, available=delta)
            return self.inventory(shop_name, sku, location.gid)

    def sell(
        self,
        shop_name: str,
        sku: str,
        quantity: int = 1,
        channel: str = "online_store",
        location_id: str | int | None = None,
    ) -> dict[str, Any]:
        """A buyer checks out in the online store (`source_name` "web") or at POS ("pos"): a
        paid order committing the units at the location (default the first), orders/create
        and inventory_levels/update sent. A DENY variant with too few available units is
        refused with `Conflict` ("sold out") and nothing changes; CONTINUE sells into negative.
        Returns the order's id and name and what is left available at the location."""
        with self.world.lock:
            shop = self.world.shop(shop_name)
            variant = self._variant(shop, sku)
            location = self._location(shop, location_id)
            order = checkout.sell(self.world, shop, variant, quantity, location, channel)
            level = shop.level(variant.inventory_item, location)
            return {
                "order_id": order.gid,
                "name": order.name,
                "available": level.quantity("available") if level else 0,
            }

    def _variant(self, shop: Shop, sku: str) -> Variant:
        variant = shop.variant_by_sku(sku)
        if variant is None:
            raise NotFound(f"no variant with SKU {sku!r} in {shop.name}")
        return variant

    def _location(self, shop: Shop, location_id: str | int | None) -> Location:
        """The location a gid or numeric id names; the shop's first one when None."""
        if location_id is None:
            return shop.locations[0]
        wanted = str(location_id)
        found = shop.location_by_gid(gid("Location", int(wanted)) if wanted.isdigit() else wanted)
        if found is None:
            raise NotFound(f"no location {location_id} in {shop.name}")
        return found

    # --- reading state ---------------------------------------------------------------

    def inventory(
        self, shop_name: str, sku: str, location_id: str | int | None = None
    ) -> dict[str, int]:
        """available / committed / on_hand (+ the other states) of a SKU, summed over
        locations unless one is given (gid or numeric id)."""
        with self.world.lock:
            shop = self.world.shop(shop_name)
            item = self._variant(shop, sku).inventory_item
            location = self._location(shop, location_id) if location_id is not None else None
            levels = [
                lv for lv in shop.levels_of(item) if location is None or lv.location is location
            ]
            names = sorted(inventory.READABLE_NAMES)
            return {n: sum(lv.quantity(n) for lv in levels) for n in names}

    def order(self, shop_name: str, order_id: str) -> dict[str, Any]:
        with self.world.lock:
            return _snapshot(self._order(self.world.shop(shop_name), order_id))

    def orders(
        self,
        shop_name: str,
        updated_since: datetime | None = None,
        source_identifier: str | None = None,
    ) -> list[dict[str, Any]]:
        """Snapshots of the shop's orders, oldest first; only those updated at or after
        `updated_since` and with exactly `source_identifier`, when given."""
        if updated_since is not None and updated_since.tzinfo is None:
            raise SandboxError("updated_since must carry a UTC offset")
        with self.world.lock:
            return [
                _snapshot(o)
                for o in self.world.shop(shop_name).orders
                if (updated_since is None or o.updated_at >= updated_since)
                and (source_identifier is None or o.source_identifier == source_identifier)
            ]

    # --- rate limits, time, delivery -------------------------------------------------

    def bucket(self, shop_name: str) -> LeakyBucket:
        self.world.shop(shop_name)
        return self._buckets[shop_name]

    def set_bucket(self, shop_name: str, available: float) -> dict[str, float]:
        """Set the points left in the shop's bucket (to provoke or end throttling)."""
        bucket = self.bucket(shop_name)
        bucket.set_available(available)
        return bucket.status()

    def finish_due_jobs(self) -> int:
        with self.world.lock:
            now = self.world.now()
            due = [
                job
                for shop in self.world.shops.values()
                for job in shop.jobs.values()
                if not job.done and job.due_at <= now
            ]
            for job in due:
                job.complete()
            return len(due)

    async def run_in_background(self, stop: asyncio.Event, poll_seconds: float = 0.05) -> None:
        """Until `stop`: every `poll_seconds`, finish due jobs and deliver due webhooks
        (unless `auto_deliver` is off). The app's lifespan runs this on the serving loop."""
        self._server_loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                if self.auto_deliver:
                    # One failing job or delivery must not stop the sandbox; the delivery
                    # log keeps each attempt's result.
                    with contextlib.suppress(Exception):
                        self.finish_due_jobs()
                        await self.webhooks.dispatcher.pump()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=poll_seconds)
        finally:
            self._server_loop = None

    async def tick(self) -> int:
        """Finish due jobs and deliver due webhooks; returns the deliveries attempted."""
        self.finish_due_jobs()
        loop = self._server_loop
        pump = self.webhooks.dispatcher.pump
        if loop is not None and loop.is_running() and loop is not asyncio.get_running_loop():
            # The dispatcher's lock belongs to the serving loop; pump there.
            return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(pump(), loop))
        return await pump()

    def deliveries(self) -> list[dict[str, Any]]:
        return [
            {
                "id": d.id,
                "url": d.url,
                "topic": d.headers.get("X-Shopify-Topic"),
                "event_id": d.headers.get("X-Shopify-Event-Id"),
                "status": d.status,
                "attempts": d.attempts,
                "due_at": iso(d.due_at),
                "last_result": d.last_result,
            }
            for d in self.webhooks.dispatcher.deliveries
        ]


def _snapshot(order: Order) -> dict[str, Any]:
    return {
        "id": order.gid,
        "name": order.name,
        "created_at": iso(order.created_at),
        "updated_at": iso(order.updated_at),
        "source_identifier": order.source_identifier,
        "source_name": order.source_name,
        "tags": list(order.tags),
        "note": order.note,
        "financial_status": order.financial_status,
        "fulfillment_status": orders.display_fulfillment_status(order),
        "cancelled_at": iso(order.cancelled_at),
        "cancel_reason": order.cancel_reason,
        "cancelling": order.cancelling,
        "closed": order.closed_at is not None,
        "total": money(order.total),
        "outstanding": money(order.outstanding),
        "shipping_address": order.shipping_address,
        "line_items": [
            {
                "id": li.gid,
                "sku": li.sku,
                "quantity": li.quantity,
                "current_quantity": li.current_quantity,
                "fulfilled": li.fulfilled_quantity,
                "committed": li.committed_quantity,
            }
            for li in order.line_items
        ],
        "fulfillment_orders": [
            {
                "id": fo.gid,
                "status": fo.status,
                "created_at": iso(fo.created_at),
                "first_held_at": iso(fo.first_held_at),
                "holds": [
                    {
                        "id": h.gid,
                        "handle": h.handle,
                        "reason": h.reason,
                        "notes": h.reason_notes,
                        "created_at": iso(h.created_at),
                    }
                    for h in fo.holds
                ],
                "line_items": [
                    {
                        "id": fo_line.gid,
                        "line_item_id": fo_line.line_item.gid,
                        "total_quantity": fo_line.total_quantity,
                        "remaining_quantity": fo_line.remaining_quantity,
                    }
                    for fo_line in fo.line_items
                ],
            }
            for fo in order.fulfillment_orders
        ],
        "fulfillments": [
            {
                "id": f.gid,
                "status": f.status,
                "created_at": iso(f.created_at),
                "tracking": [
                    {"company": t.company, "number": t.number, "url": t.url} for t in f.tracking
                ],
            }
            for f in order.fulfillments
        ],
        "transactions": [
            {
                "id": t.gid,
                "kind": t.kind,
                "status": t.status,
                "amount": money(t.amount),
                "created_at": iso(t.created_at),
            }
            for t in order.transactions
        ],
        "refunds": [
            {
                "id": r.gid,
                "note": r.note,
                "created_at": iso(r.created_at),
                "lines": [
                    {
                        "line_item_id": line.line_item.gid,
                        "quantity": line.quantity,
                        "restock_type": line.restock_type,
                    }
                    for line in r.lines
                ],
            }
            for r in order.refunds
        ],
    }
