"""The TikTok port over the real HTTP client: domain snapshots in, platform errors translated."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal

import structlog

from shopbridge.domain.events import CancellationObserved, ReturnObserved
from shopbridge.domain.money import Money
from shopbridge.domain.tiktok_order import Address, OrderLine, TikTokOrder, TikTokStatus, Unit
from shopbridge.engine.ports import (
    AccessLost,
    OrderCancellation,
    PermanentError,
    PlatformError,
    Registration,
    RetryableError,
    ShippingProvider,
    TikTokSku,
    UnreadableOrder,
)
from shopbridge.tiktok.client import TikTokClient
from shopbridge.tiktok.errors import (
    TikTokError,
    TikTokPermanent,
    TikTokRetryable,
    TikTokTokenExpired,
)
from shopbridge.tiktok.models import Cancellation, Order, Product, Return

log = structlog.get_logger("shopbridge.tiktok")

# Mark Package As Shipped: "already shipped" in its two spellings (tiktok_shop_api.md §4.3).
ALREADY_SHIPPED = frozenset({21011006, 21008099})
# Several packages of the order can ship: name the line items (tiktok wave2 §5.4).
SPECIFY_LINES = 21011048
# The seller's authorization is gone (tiktok_shop_api_wave2.md §1.5): deauthorized (105001,
# UNCONFIRMED for sellers), a token that stays invalid after a refresh, a missing scope.
ACCESS_REFUSED = frozenset({105001, 105002, 105005, 36009004})
# Approve/reject of a request the buyer already withdrew (§4.2): nothing left to do.
REQUEST_ALREADY_CLOSED = frozenset({25020009})
SELLER_SKUS_PER_SEARCH = 10  # Search Products' seller_skus filter (tiktok wave2 §3.4)
UNREADABLE = "unreadable"  # PermanentError code: TikTok sent an order we cannot read


@asynccontextmanager
async def translated(call: str) -> AsyncIterator[None]:
    """Turn TikTok client errors into the engine's retryable/permanent errors."""
    try:
        yield
    except TikTokRetryable as error:
        raise RetryableError(str(error), code=str(error.code or "")) from error
    except TikTokError as error:
        if isinstance(error, TikTokTokenExpired) or error.code in ACCESS_REFUSED:
            raise AccessLost(
                "tiktok",
                f"TikTok Shop refused shopbridge's access ({error}): the seller deauthorized the "
                "app or its authorization expired. Reconnect the shop.",
            ) from error
        raise PermanentError(str(error), code=str(error.code or "")) from error


@asynccontextmanager
async def _shipping(call: str) -> AsyncIterator[None]:
    """Shipping calls, with TikTok's "already shipped" and "name the lines" told apart."""
    try:
        async with translated(call):
            yield
    except PermanentError as error:
        code = int(error.code) if error.code.isdigit() else 0
        if code in ALREADY_SHIPPED:
            raise PermanentError(error.message, code="already_shipped") from error
        if code == SPECIFY_LINES:
            raise PermanentError(error.message, code="specify_lines") from error
        raise


def to_snapshot(order: Order) -> TikTokOrder:
    """The domain's view of one TikTok order."""
    status = TikTokStatus.parse(str(order.status))
    if status is None:
        raise PermanentError(
            f"TikTok order {order.id} has status {order.status!r}, which shopbridge does not know",
            code=UNREADABLE,
        )
    if order.update_time is None or order.create_time is None:
        raise PermanentError(
            f"TikTok order {order.id} has no create or update time", code=UNREADABLE
        )
    currency = order.currency or "USD"
    lines = tuple(
        OrderLine(
            seller_sku=group.seller_sku or group.sku_id,
            sku_id=group.sku_id,
            product_name=group.product_name,
            quantity=group.quantity,
            unit_price=Money(group.unit_price or Decimal(0), group.currency or currency),
            unit_ids=group.line_item_ids,
        )
        for group in order.sku_quantities()
    )
    units = tuple(
        Unit(
            line_item_id=item.id,
            seller_sku=item.seller_sku or item.sku_id,
            sku_id=item.sku_id,
            status=str(item.display_status or ""),
            cancel_user=item.cancel_user or None,
            package_id=item.package_id or None,
        )
        for item in order.line_items
    )
    total = order.payment.total_amount
    return TikTokOrder(
        order_id=order.id,
        status=status,
        update_time=order.update_time,
        create_time=order.create_time,
        paid_time=order.paid_time,
        is_on_hold_order=order.is_on_hold_order,
        is_buyer_request_cancel=order.is_buyer_request_cancel,
        cancellation_initiator=order.cancellation_initiator or None,
        cancel_reason=order.cancel_reason or None,
        lines=lines,
        total=None if total is None else Money(total, currency),
        shipping_address=_address(order),
        delivery_option_id=order.delivery_option_id or None,
        units=units,
        combined=(order.split_or_combine_tag or "").upper() == "COMBINED",
    )


def _address(order: Order) -> Address | None:
    a = order.recipient_address
    if a is None or not (a.address_line1 or a.full_address or a.postal_code):
        return None
    first, last = a.first_name, a.last_name
    if not (first or last) and a.name:
        first, _, last = a.name.partition(" ")
    return Address(
        name=a.name or None,
        first_name=first or None,
        last_name=last or None,
        address1=a.address_line1 or a.address_detail or a.full_address or None,
        address2=a.address_line2 or None,
        city=a.city,
        province=a.state,
        zip=a.postal_code or None,
        country_code=a.region_code or None,
        phone=a.phone_number or None,
    )


def to_cancellation(record: Cancellation) -> CancellationObserved:
    when = record.update_time or record.create_time
    if when is None:
        raise PermanentError(f"TikTok cancellation {record.cancel_id} has no time")
    return CancellationObserved(
        cancel_id=record.cancel_id,
        status=str(record.cancel_status),
        role=record.role,
        update_time=when,
        deadline=record.deadline,
        cancel_type=record.cancel_type,
    )


class TikTokGateway:
    def __init__(self, client: TikTokClient) -> None:
        self.client = client

    async def check_access(self) -> None:
        async with translated("get authorized shops"):
            await self.client.get_authorized_shops()

    async def ensure_webhooks(self, address: str, events: tuple[str, ...]) -> list[Registration]:
        """Every event type pushed to `address` (one address per type: a PUT overwrites)."""
        found: list[Registration] = []
        async with translated("shop webhooks"):
            existing = await self.client.shop_webhooks()
            for event in events:
                if existing.get(event) == address:
                    found.append(Registration("tiktok", event, address, "kept"))
                    continue
                try:
                    await self.client.update_shop_webhook(event, address)
                except TikTokPermanent as refused:
                    where = existing.get(event)
                    found.append(Registration("tiktok", event, where, "failed", str(refused)))
                    continue
                action = "updated" if event in existing else "created"
                found.append(Registration("tiktok", event, address, action))
        return found

    async def get_order(self, order_id: str) -> TikTokOrder:
        try:
            async with translated("get order"):
                orders = await self.client.get_orders([order_id])
        except PermanentError as error:
            if error.code == "" and "unexpected Order in the reply" in error.message:
                raise PermanentError(error.message, code=UNREADABLE) from error
            raise
        for order in orders:
            if order.id == order_id:
                return to_snapshot(order)
        raise PermanentError(f"TikTok returned no order {order_id}")

    async def get_cancellations(self, order_id: str) -> tuple[CancellationObserved, ...]:
        async with translated("search cancellations"):
            records = [c async for c in self.client.iter_cancellations(order_ids=[order_id])]
        return tuple(to_cancellation(r) for r in records if r.order_id == order_id)

    async def answer_cancellation(
        self, cancel_id: str, decision: str, reason: str, comment: str, idempotency_key: str
    ) -> None:
        try:
            async with translated(f"{decision} cancellation"):
                if decision == "approve":
                    await self.client.approve_cancellation(cancel_id, idempotency_key)
                else:
                    await self.client.reject_cancellation(
                        cancel_id, reason, comment, idempotency_key
                    )
        except PermanentError as error:
            if error.code and int(error.code) in REQUEST_ALREADY_CLOSED:
                return
            raise

    async def shipping_providers(self, delivery_option_id: str) -> tuple[ShippingProvider, ...]:
        async with translated("get shipping providers"):
            providers = await self.client.get_shipping_providers(delivery_option_id)
        return tuple(ShippingProvider(p.id, p.name) for p in providers)

    async def mark_shipped(
        self,
        order_id: str,
        tracking_number: str,
        provider_id: str,
        unit_ids: Sequence[str] | None = None,
    ) -> str | None:
        async with _shipping("mark package shipped"):
            shipped = await self.client.mark_package_shipped(
                order_id, tracking_number, provider_id, unit_ids
            )
        return shipped.package_id or None

    async def ship_package(self, package_id: str, tracking_number: str, provider_id: str) -> None:
        async with _shipping("ship package"):
            await self.client.ship_package(package_id, tracking_number, provider_id)

    async def correct_tracking(
        self, package_id: str, tracking_number: str, provider_id: str
    ) -> None:
        async with translated("update package shipping info"):
            await self.client.update_package_shipping_info(package_id, tracking_number, provider_id)

    async def package_tracking(self, package_id: str) -> str | None:
        async with translated("get package detail"):
            package = await self.client.get_package(package_id)
        return package.tracking_number or None

    async def cancel_items(
        self,
        order_id: str,
        unit_ids: Sequence[str] | None,
        skus: Sequence[tuple[str, int]],
        reason: str,
        idempotency_key: str,
    ) -> None:
        async with translated("cancel order"):
            await self.client.cancel_order(
                order_id,
                reason,
                idempotency_key,
                line_item_ids=unit_ids,
                skus=list(skus) or None,
            )

    async def get_returns(self, order_id: str) -> tuple[ReturnObserved, ...]:
        async with translated("search returns"):
            found = [r async for r in self.client.iter_returns(order_ids=[order_id])]
        return tuple(seen for oid, seen in _returns(found) if oid == order_id)

    async def returns_updated(
        self, since: datetime, until: datetime
    ) -> list[tuple[str, ReturnObserved]]:
        async with translated("search returns"):
            found = [
                r
                async for r in self.client.iter_returns(update_time_ge=since, update_time_lt=until)
            ]
        return _returns(found)

    async def find_skus(self, seller_skus: Sequence[str]) -> dict[str, TikTokSku]:
        """The TikTok SKUs carrying these seller SKUs (first match wins), with their stock."""
        wanted = list(dict.fromkeys(seller_skus))
        found: dict[str, TikTokSku] = {}
        async with translated("search products"):
            # Search Products takes at most 10 seller SKUs per call (12019027).
            for start in range(0, len(wanted), SELLER_SKUS_PER_SEARCH):
                batch = wanted[start : start + SELLER_SKUS_PER_SEARCH]
                async for product in self.client.iter_products(batch):
                    for sku in _skus(product):
                        if sku.seller_sku in batch:
                            found.setdefault(sku.seller_sku, sku)
        return found

    async def catalog(self) -> AsyncIterator[list[TikTokSku]]:
        """Every SKU of the shop's products, a page of products at a time."""
        page_token: str | None = None
        seen: set[str] = set()
        while True:
            async with translated("search products"):
                page = await self.client.search_products(page_token=page_token)
            yield [sku for product in page.items for sku in _skus(product)]
            page_token = page.next_page_token
            if page_token is None or page_token in seen:
                return
            seen.add(page_token)

    async def sku_stock(self, sku_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """sku id -> warehouse id -> available quantity, as TikTok counts it now."""
        async with translated("search inventory"):
            found = await self.client.search_inventory(sku_ids=list(sku_ids))
        return {
            s.id: {w.warehouse_id: w.available_quantity for w in s.warehouse_inventory}
            for s in found
        }

    async def push_stock(
        self, product_id: str, quantities: Mapping[str, Mapping[str, int]]
    ) -> dict[str, PlatformError]:
        """Set several SKUs of one product at once; returns the SKUs TikTok refused."""
        async with translated("update inventory"):
            refused = await self.client.update_product_inventory(product_id, quantities)
        errors: dict[str, PlatformError] = {}
        for sku_id, error in refused.items():
            try:
                async with translated("update inventory"):
                    raise error
            except PlatformError as translated_error:
                errors[sku_id] = translated_error
        return errors

    async def warehouses(self) -> list[tuple[str, str, bool]]:
        """(id, name, is default) of each sales warehouse that can hold stock."""
        async with translated("get warehouses"):
            found = await self.client.get_warehouses()
        return [
            (w.id, w.name or w.id, w.is_default)
            for w in found
            if w.type in ("", "SALES_WAREHOUSE") and w.effect_status in ("", "ENABLED")
        ]

    async def orders_updated(
        self, since: datetime, until: datetime
    ) -> list[TikTokOrder | UnreadableOrder]:
        """Orders TikTok changed in the window; one it sends in a shape shopbridge cannot read
        is returned as UnreadableOrder, and the others still come through."""
        found: list[TikTokOrder | UnreadableOrder] = []
        async with translated("search orders"):
            async for page in self.client.iter_order_pages(since, until):
                for order in page.items:
                    try:
                        found.append(to_snapshot(order))
                    except PermanentError as error:
                        found.append(UnreadableOrder(order.id, error.message))
                for order_id, why in page.unreadable:
                    if order_id is None:
                        log.warning("TikTok sent an order without a readable id", why=why)
                    else:
                        found.append(UnreadableOrder(order_id, why))
        return found

    async def cancellations_updated(
        self, since: datetime, until: datetime
    ) -> list[OrderCancellation]:
        async with translated("search cancellations"):
            records = [
                c
                async for c in self.client.iter_cancellations(
                    update_time_ge=since, update_time_lt=until
                )
            ]
        return [OrderCancellation(r.order_id, to_cancellation(r)) for r in records]


def _returns(found: list[Return]) -> list[tuple[str, ReturnObserved]]:
    """(order id, return) for every return TikTok sent with a time to order it by."""
    observed: list[tuple[str, ReturnObserved]] = []
    for r in found:
        when = r.update_time or r.create_time
        if when is None:
            continue
        seen = ReturnObserved(
            return_id=r.return_id,
            status=str(r.return_status),
            return_type=str(r.return_type),
            unit_ids=tuple(i.order_line_item_id for i in r.return_line_items),
            update_time=when,
            role=r.role or "",
        )
        observed.append((r.order_id, seen))
    return observed


def _skus(product: Product) -> list[TikTokSku]:
    return [
        TikTokSku(
            seller_sku=sku.seller_sku,
            product_id=product.id,
            sku_id=sku.id,
            warehouses={w.warehouse_id: w.quantity for w in sku.inventory},
        )
        for sku in product.skus
        if sku.seller_sku
    ]
