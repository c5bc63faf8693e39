"""Cost-aware async client for the Shopify Admin GraphQL API, version 2026-07.

One `ShopifyClient` talks to one shop: `POST {base}/admin/api/2026-07/graphql.json` with the
`X-Shopify-Access-Token` header (shopify_api.md §0). Every call names a `.graphql` operation from
`shopbridge.shopify.operations`; the client waits on the shop's modelled cost bucket before
sending (`throttle.py`), absorbs THROTTLED answers, retries 5xx and timeouts with exponential
backoff and jitter, and turns everything else into the typed errors of `errors.py`.

Why hand-written pydantic models rather than ariadne-codegen: we read about fifteen small shapes
from a 3.8 MB schema. Codegen would add a build step and a dev dependency, regenerate thousands
of lines whenever an operation changes, and its output mirrors the GraphQL nesting (`nodes`,
`shopMoney`, `assignedLocation.location`) that the rest of shopbridge should not see. Our models
flatten those once, carry Decimal money and aware datetimes, and stay honest because the test
suite validates every operation against the real schema and exercises every model against the
sandbox over HTTP.

Usage::

    async with ShopifyClient("demo", token, base_url=sandbox_url) as shopify:
        existing = await shopify.find_order_by_source_identifier("577000111222333")
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import httpx

from shopbridge import metrics
from shopbridge.credentials import FixedToken, TokenSource
from shopbridge.shopify.errors import (
    ShopifyAuthError,
    ShopifyError,
    ShopifyGraphQLError,
    ShopifyPermanent,
    ShopifyQueryTooCostly,
    ShopifyRetryable,
    ShopifyThrottled,
    ShopifyUserError,
    UserErrorDetail,
)
from shopbridge.shopify.models import (
    Address,
    CancelReason,
    CreatedOrder,
    FulfillmentHold,
    FulfillmentOrder,
    InventoryAdjustmentGroup,
    InventoryBehaviour,
    InventoryDelta,
    InventoryQuantities,
    InventoryTarget,
    ItemLevel,
    ItemLevels,
    Job,
    Location,
    Order,
    OrderLine,
    OrderState,
    OrderSummary,
    RefundLine,
    Variant,
    WebhookSubscription,
)
from shopbridge.shopify.operations import operation
from shopbridge.shopify.throttle import (
    MAX_QUERY_COST,
    ShopBucket,
    Sleep,
    ThrottleStatus,
    bucket_for,
    estimate_requested_cost,
)

API_VERSION = "2026-07"
ACCESS_TOKEN_HEADER = "X-Shopify-Access-Token"

SKUS_PER_QUERY = 50
# Items per stock read: requested cost 2 + n × 33 stays well inside one bucket.
ITEMS_PER_LEVELS_QUERY = 25
"""SKUs looked up per productVariants query: 2 + 50 × 3 = 152 points, far below 1000."""

_SEARCH_TERM = re.compile(r"^[A-Za-z0-9_.\-]+$")


class ShopifyClient:
    """Async client of one shop's Admin GraphQL API; close it (or use `async with`)."""

    def __init__(
        self,
        shop: str,
        access_token: str | TokenSource,
        *,
        base_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        bucket: ShopBucket | None = None,
        max_attempts: int = 4,
        backoff_base: float = 0.2,
        backoff_cap: float = 5.0,
        max_throttled_retries: int = 30,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.shop = shop if "." in shop else f"{shop}.myshopify.com"
        self.base_url = (base_url or f"https://{self.shop}").rstrip("/")
        self.endpoint = f"{self.base_url}/admin/api/{API_VERSION}/graphql.json"
        self.bucket = bucket or bucket_for(self.endpoint)
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=timeout,
            headers={"Content-Type": "application/json"},
        )
        self._tokens: TokenSource = (
            FixedToken(access_token) if isinstance(access_token, str) else access_token
        )
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._max_throttled_retries = max_throttled_retries
        self._sleep = sleep
        self._rng = rng or random.Random()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ShopifyClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- transport ------------------------------------------------------------------------

    async def execute(
        self, name: str, variables: Mapping[str, Any], *, retry_failures: bool = True
    ) -> dict[str, Any]:
        """Send operation `name` and return its `data`, or raise a typed `ShopifyError`.

        THROTTLED answers (HTTP 200 or 429) are waited out and retried without counting as
        failures. 5xx, timeouts and broken connections are retried with backoff unless
        `retry_failures` is false (for calls that are not safe to repeat blindly).
        """
        op = operation(name)
        static_cost = estimate_requested_cost(op.document, variables)
        if static_cost > MAX_QUERY_COST:
            raise ShopifyQueryTooCostly(
                name,
                self.shop,
                f"the query would request about {static_cost} points; Shopify refuses any "
                f"query over {MAX_QUERY_COST}, so it was not sent",
            )
        body = {"query": op.text, "variables": dict(variables), "operationName": op.operation_name}
        failures = throttled = 0
        renewed = False
        while True:
            token = await self._tokens.token()
            reserved = await self.bucket.acquire(static_cost, op.operation_name)
            status: ThrottleStatus | None = None
            try:
                response = await self._http.post(
                    self.endpoint, json=body, headers={ACCESS_TOKEN_HEADER: token}
                )
                payload = _json_or_none(response)
                cost_report = _cost_report(payload)
                status = ThrottleStatus.from_cost(cost_report)
            except httpx.TransportError as exc:
                failures += 1
                detail = f"{type(exc).__name__}: {exc or 'no detail'}"
                await self._after_failure(name, failures, detail, retry_failures)
                continue
            finally:
                # Also on cancellation: a reservation never leaks out of the shop's bucket.
                self.bucket.settle(reserved, status)
            requested = _requested_cost(cost_report)
            metrics.shopify_cost(self.shop, cost_report)
            if requested is not None:
                self.bucket.remember_requested(op.operation_name, requested)

            if response.status_code == 401 and not renewed and await self._tokens.rejected(token):
                renewed = True  # a renewed token gets one more try; a second 401 is final
                continue
            if response.status_code in (401, 403):
                raise ShopifyAuthError(
                    name, self.shop, f"HTTP {response.status_code}: {_said(response, payload)}"
                )
            if response.status_code == 429 or _has_error_code(payload, "THROTTLED"):
                throttled += 1
                metrics.shopify_throttled(self.shop)
                if throttled > self._max_throttled_retries:
                    raise ShopifyThrottled(
                        name, self.shop, f"still throttled after {throttled - 1} waits"
                    )
                await self.bucket.wait_after_throttled(
                    requested or reserved, status, fallback=_retry_after(response)
                )
                continue
            if response.status_code >= 500:
                failures += 1
                detail = f"HTTP {response.status_code}: {_said(response, payload)}"
                await self._after_failure(name, failures, detail, retry_failures)
                continue
            if response.status_code >= 400 or payload is None:
                raise ShopifyPermanent(
                    name, self.shop, f"HTTP {response.status_code}: {_said(response, payload)}"
                )
            return self._data(name, payload)

    async def _after_failure(
        self, name: str, failures: int, detail: str, retry_failures: bool
    ) -> None:
        if not retry_failures or failures >= self._max_attempts:
            raise ShopifyRetryable(name, self.shop, f"{detail} (attempt {failures})")
        await self._backoff(failures)

    async def _backoff(self, failures: int) -> None:
        # Full jitter: concurrent callers that failed together spread out (Saleor, STYLE.md).
        ceiling = min(self._backoff_cap, self._backoff_base * 2 ** (failures - 1))
        await self._sleep(self._rng.uniform(0, ceiling))

    def _data(self, name: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        errors = payload.get("errors")
        if errors:
            if _has_error_code(payload, "MAX_COST_EXCEEDED"):
                raise ShopifyQueryTooCostly(name, self.shop, "; ".join(_messages(errors)))
            raise ShopifyGraphQLError(name, self.shop, _messages(errors))
        data = payload.get("data")
        if not isinstance(data, dict):
            raise ShopifyPermanent(name, self.shop, "the response carried neither data nor errors")
        return data

    def _payload(
        self, name: str, data: Mapping[str, Any], root: str, errors_key: str = "userErrors"
    ) -> dict[str, Any]:
        """The mutation payload under `root`, raising ShopifyUserError on any user error."""
        payload = data.get(root)
        if not isinstance(payload, dict):
            raise ShopifyPermanent(name, self.shop, f"{root} returned no payload")
        user_errors = payload.get(errors_key) or []
        if user_errors:
            raise ShopifyUserError(
                name,
                self.shop,
                [
                    UserErrorDetail(
                        field=tuple(e.get("field") or ()),
                        code=e.get("code"),
                        message=e.get("message") or "",
                    )
                    for e in user_errors
                ],
            )
        return payload

    # --- orders ---------------------------------------------------------------------------

    async def find_order_by_source_identifier(self, tiktok_order_id: str) -> OrderSummary | None:
        """The oldest Shopify order mirroring a TikTok order, found by its sourceIdentifier."""
        matches = await self.orders_by_source_identifier(tiktok_order_id)
        return matches[0] if matches else None

    async def orders_by_source_identifier(self, tiktok_order_id: str) -> list[OrderSummary]:
        """Every Shopify order whose sourceIdentifier is this TikTok order id, oldest first.

        Search-index lag after orderCreate is UNCONFIRMED (§1): callers keep their own
        TikTok-id → Shopify-GID map as the primary guard and use this as the second one.
        """
        term = _search_term(tiktok_order_id, "TikTok order id")
        data = await self.execute(
            "find_order_by_source_identifier", {"query": f"source_identifier:{term}"}
        )
        nodes = data["orders"]["nodes"]
        # Search is token-based; keep only exact matches. Shopify's ids grow with time, so they
        # order orders created within the same second.
        matches = [OrderSummary.model_validate(n) for n in nodes]
        matches = [m for m in matches if m.source_identifier == tiktok_order_id]
        return sorted(matches, key=lambda m: (m.created_at, _numeric_id(m.id)))

    async def orders_updated_since(self, since: datetime) -> list[OrderSummary]:
        """Every order updated after `since`, page by page (for reconciliation)."""
        stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        found: list[OrderSummary] = []
        after: str | None = None
        while True:
            data = await self.execute(
                "orders_updated_since", {"query": f"updated_at:>'{stamp}'", "after": after}
            )
            page = data["orders"]
            found.extend(OrderSummary.model_validate(n) for n in page["nodes"])
            if not page["pageInfo"]["hasNextPage"]:
                return found
            after = page["pageInfo"]["endCursor"]

    async def create_order(
        self,
        *,
        source_identifier: str,
        currency: str,
        lines: Sequence[OrderLine],
        tags: Sequence[str] = (),
        email: str | None = None,
        shipping_address: Address | None = None,
        note: str | None = None,
        custom_attributes: Mapping[str, str] | None = None,
        inventory_behaviour: InventoryBehaviour = InventoryBehaviour.DECREMENT_IGNORING_POLICY,
    ) -> CreatedOrder:
        """Create an unpaid (PENDING) order that claims stock at once (§1).

        orderCreate has no idempotency key, so after a timeout or 5xx the client looks the
        order up by sourceIdentifier before trying again, and returns the one it finds.
        """
        if not lines:
            raise ValueError("an order needs at least one line")
        order: dict[str, Any] = {
            "currency": currency,
            "financialStatus": "PENDING",
            "sourceIdentifier": source_identifier,
            "tags": list(tags),
            "lineItems": [line.to_input(currency) for line in lines],
        }
        if email is not None:
            order["email"] = email
        if shipping_address is not None:
            order["shippingAddress"] = shipping_address.to_input()
        if note is not None:
            order["note"] = note
        if custom_attributes:
            order["customAttributes"] = [
                {"key": k, "value": v} for k, v in custom_attributes.items()
            ]
        variables = {
            "order": order,
            "options": {
                "inventoryBehaviour": inventory_behaviour.value,
                "sendReceipt": False,
                "sendFulfillmentReceipt": False,
            },
            "lineCount": _page_size(len(lines)),
        }
        attempt = 0
        while True:
            attempt += 1
            try:
                data = await self.execute("create_order", variables, retry_failures=False)
            except ShopifyThrottled:
                raise
            except ShopifyRetryable:
                existing = await self.find_order_by_source_identifier(source_identifier)
                if existing is not None:
                    return await self._read_created_order(existing.id, len(lines))
                if attempt >= self._max_attempts:
                    raise
                await self._backoff(attempt)
                continue
            payload = self._payload("create_order", data, "orderCreate")
            return CreatedOrder.model_validate(payload["order"])

    async def _read_created_order(self, order_gid: str, line_count: int) -> CreatedOrder:
        data = await self.execute(
            "read_created_order", {"id": order_gid, "lineCount": _page_size(line_count)}
        )
        if data.get("order") is None:
            raise ShopifyPermanent("create_order", self.shop, f"order {order_gid} vanished")
        return CreatedOrder.model_validate(data["order"])

    async def get_order(self, order_gid: str) -> Order | None:
        """The order: statuses, lines, fulfillment orders, holds, fulfillments; None if absent."""
        data = await self.execute("get_order", {"id": order_gid})
        return None if data.get("order") is None else Order.model_validate(data["order"])

    async def get_order_state(self, order_gid: str) -> OrderState | None:
        """Statuses, holds and fulfilments only: the cheap read the mirror makes on every step."""
        data = await self.execute("get_order_state", {"id": order_gid})
        return None if data.get("order") is None else OrderState.model_validate(data["order"])

    async def get_order_detail(self, order_gid: str) -> OrderState | None:
        """The state with the lines, each fulfilment's lines, refunds and whether the order can
        be edited: for the work that needs lines (edits, returns, boxes)."""
        data = await self.execute("get_order_detail", {"id": order_gid})
        return None if data.get("order") is None else OrderState.model_validate(data["order"])

    async def fulfillment_orders(self, order_gid: str) -> list[FulfillmentOrder]:
        """The order's fulfillment orders with their holds (may be empty right after create, §2)."""
        data = await self.execute("fulfillment_orders", {"orderId": order_gid})
        if data.get("order") is None:
            raise ShopifyPermanent("fulfillment_orders", self.shop, f"no order {order_gid}")
        return [
            FulfillmentOrder.model_validate(n) for n in data["order"]["fulfillmentOrders"]["nodes"]
        ]

    async def hold_fulfillment_order(
        self,
        fulfillment_order_gid: str,
        handle: str,
        reason: str = "AWAITING_PAYMENT",
        notes: str | None = None,
    ) -> FulfillmentHold:
        """Put our own named hold on a whole fulfillment order (§2).

        A repeated handle answers ShopifyUserError with code DUPLICATE_FULFILLMENT_HOLD_HANDLE,
        which means our hold is already in place.
        """
        if not handle or len(handle) > 64:
            raise ValueError("a hold handle is 1 to 64 characters (§2)")
        hold: dict[str, Any] = {"reason": reason, "handle": handle, "notifyMerchant": False}
        if notes is not None:
            hold["reasonNotes"] = notes
        data = await self.execute(
            "hold_fulfillment_order", {"id": fulfillment_order_gid, "hold": hold}
        )
        payload = self._payload("hold_fulfillment_order", data, "fulfillmentOrderHold")
        return FulfillmentHold.model_validate(payload["fulfillmentHold"])

    async def release_holds(
        self, fulfillment_order_gid: str, hold_ids: Sequence[str]
    ) -> FulfillmentOrder:
        """Release exactly these holds (ours), returning the fulfillment order's id and status."""
        if not hold_ids:
            # Without holdIds Shopify releases every hold, other apps' too (§2, Release).
            raise ValueError("release_holds needs our own hold ids; refusing to release all holds")
        data = await self.execute(
            "release_fulfillment_order_holds",
            {"id": fulfillment_order_gid, "holdIds": list(hold_ids)},
        )
        payload = self._payload(
            "release_fulfillment_order_holds", data, "fulfillmentOrderReleaseHold"
        )
        return FulfillmentOrder.model_validate(payload["fulfillmentOrder"])

    async def update_shipping_address(self, order_gid: str, address: Address) -> None:
        """Write the shipping address TikTok revealed after the hold (orderUpdate)."""
        data = await self.execute(
            "update_order_shipping_address",
            {"input": {"id": order_gid, "shippingAddress": address.to_input()}},
        )
        self._payload("update_order_shipping_address", data, "orderUpdate")

    async def mark_as_paid(self, order_gid: str) -> str | None:
        """Record the payment (a SALE transaction, §3); returns the new display financial status."""
        data = await self.execute("mark_order_as_paid", {"id": order_gid})
        payload = self._payload("mark_order_as_paid", data, "orderMarkAsPaid")
        status: str | None = (payload.get("order") or {}).get("displayFinancialStatus")
        return status

    async def cancel_order(
        self,
        order_gid: str,
        reason: CancelReason | str,
        *,
        restock: bool = True,
        staff_note: str | None = None,
    ) -> str:
        """Start cancelling the order; returns the job id to pass to `wait_for_job` (§4)."""
        if staff_note is not None and len(staff_note) > 255:
            raise ValueError("Shopify limits a staff note to 255 characters (§4)")
        data = await self.execute(
            "cancel_order",
            {
                "orderId": order_gid,
                "reason": str(reason),
                "restock": restock,
                "staffNote": staff_note,
            },
        )
        payload = self._payload("cancel_order", data, "orderCancel", "orderCancelUserErrors")
        job = payload.get("job")
        if not job:
            raise ShopifyPermanent("cancel_order", self.shop, "orderCancel returned no job")
        return str(job["id"])

    async def wait_for_job(
        self, job_id: str, *, max_wait: float = 30.0, poll_interval: float = 0.2
    ) -> Job:
        """Poll `job(id:)` until it is done; ShopifyRetryable if not done within `max_wait` s."""
        deadline = time.monotonic() + max_wait
        while True:
            data = await self.execute("job_status", {"id": job_id})
            if data.get("job") is None:
                raise ShopifyPermanent("wait_for_job", self.shop, f"no job {job_id}")
            job = Job.model_validate(data["job"])
            if job.done:
                return job
            if time.monotonic() >= deadline:
                raise ShopifyRetryable(
                    "wait_for_job", self.shop, f"job {job_id} not done after {max_wait:g} s"
                )
            await self._sleep(poll_interval)

    # --- edits and refunds ----------------------------------------------------------------

    async def edit_line_quantities(
        self,
        order_gid: str,
        quantities: Mapping[str, int],
        *,
        restock: bool = True,
        staff_note: str | None = None,
        current: Mapping[str, int] | None = None,
    ) -> None:
        """Lower lines to new current quantities in one order edit (wave2 §3): begin, one
        orderEditSetQuantity per line, commit. `quantities` maps LineItem gid → new quantity.

        The order is read first, unless the caller just did and passes every line's `current`
        quantity (then a refusal to edit comes from orderEditBegin's userErrors): lines already
        at or below their target are skipped, and when none is left nothing is sent, so a
        repeat after a lost answer changes nothing. The
        commit is not sent twice blindly: after a lost commit answer the order is read again
        and the edit counts as done if every line reached its target. Any userError raises
        ShopifyUserError with Shopify's message; the uncommitted session is then abandoned,
        so a refusal changes nothing."""
        for line_gid, target in quantities.items():
            if target < 0:
                raise ValueError(f"line {line_gid}: a quantity can't be negative ({target})")
        if current is None:
            state = await self.get_order_detail(order_gid)
            if state is None:
                raise ShopifyPermanent("edit_line_quantities", self.shop, f"no order {order_gid}")
            current = {line.id: line.current_quantity for line in state.line_items}
            if not state.merchant_editable and any(
                current.get(g, 0) > q for g, q in quantities.items()
            ):
                raise ShopifyUserError(
                    "edit_line_quantities",
                    self.shop,
                    [
                        UserErrorDetail(field=("id",), code=None, message=message)
                        for message in state.merchant_editable_errors
                        or [f"Order {state.name} can't be edited"]
                    ],
                )
        unknown = [line_gid for line_gid in quantities if line_gid not in current]
        if unknown:
            raise ValueError(f"order {order_gid} has no line items {', '.join(unknown)}")
        changes = {g: q for g, q in quantities.items() if current[g] > q}
        if not changes:
            return
        data = await self.execute(
            "begin_order_edit", {"id": order_gid, "lineCount": _page_size(len(current))}
        )
        begun = self._payload("begin_order_edit", data, "orderEditBegin")
        session_id = begun["orderEditSession"]["id"]
        # A CalculatedLineItem is numbered like the LineItem it stands for.
        calculated = {
            _numeric_id(node["id"]): node["id"]
            for node in begun["calculatedOrder"]["lineItems"]["nodes"]
        }
        for line_gid, target in changes.items():
            calculated_id = calculated.get(_numeric_id(line_gid))
            if calculated_id is None:
                raise ShopifyPermanent(
                    "edit_line_quantities",
                    self.shop,
                    f"the edit of {order_gid} shows no calculated line for {line_gid}",
                )
            data = await self.execute(
                "set_order_edit_quantity",
                {
                    "id": session_id,
                    "lineItemId": calculated_id,
                    "quantity": target,
                    "restock": restock,
                },
            )
            self._payload("set_order_edit_quantity", data, "orderEditSetQuantity")
        variables = {"id": session_id, "notifyCustomer": False, "staffNote": staff_note}
        try:
            data = await self.execute("commit_order_edit", variables, retry_failures=False)
        except ShopifyRetryable:
            after = await self.get_order_detail(order_gid)
            reached = after is not None and all(
                line.current_quantity <= changes[line.id]
                for line in after.line_items
                if line.id in changes
            )
            if reached:
                return
            raise
        self._payload("commit_order_edit", data, "orderEditCommit")

    async def create_refund(
        self,
        order_gid: str,
        lines: Sequence[RefundLine],
        *,
        note: str,
        idempotency_key: str,
    ) -> str:
        """Refund line quantities with their restock (wave2 §5), moving no money (no
        transactions); returns the refund's id. Runs once per idempotency key: a repeat with
        the same key and lines answers the same refund and restocks nothing twice."""
        if not lines:
            raise ValueError("a refund needs at least one line")
        data = await self.execute(
            "create_refund",
            {
                "idempotencyKey": _idempotency_key(idempotency_key),
                "input": {
                    "orderId": order_gid,
                    "note": note,
                    "notify": False,
                    "refundLineItems": [line.to_input() for line in lines],
                },
            },
        )
        payload = self._payload("create_refund", data, "refundCreate")
        refund = payload.get("refund")
        if not refund:
            raise ShopifyPermanent("create_refund", self.shop, "refundCreate returned no refund")
        return str(refund["id"])

    # --- products and inventory -----------------------------------------------------------

    async def variants_by_sku(self, skus: Sequence[str]) -> dict[str, Variant]:
        """Variants whose SKU equals one of `skus` exactly, by SKU; unknown SKUs are absent."""
        wanted = list(dict.fromkeys(skus))
        found: dict[str, Variant] = {}
        for start in range(0, len(wanted), SKUS_PER_QUERY):
            batch = wanted[start : start + SKUS_PER_QUERY]
            query = " OR ".join(f"sku:{_search_term(sku, 'SKU')}" for sku in batch)
            data = await self.execute("variants_by_sku", {"first": len(batch), "query": query})
            for node in data["productVariants"]["nodes"]:
                variant = Variant.model_validate(node)
                # Search matches tokens, not whole SKUs; keep exact matches, first one wins.
                if variant.sku in batch and variant.sku not in found:
                    found[variant.sku] = variant
        return found

    async def inventory_levels(
        self, inventory_item_ids: Sequence[str], location_id: str
    ) -> dict[str, InventoryQuantities]:
        """available / committed / on_hand per item at one location; unstocked items are absent."""
        # A task group cancels the other reads as soon as one fails (gather would leave them).
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(self._inventory_level(item_id, location_id))
                for item_id in inventory_item_ids
            ]
        levels = (task.result() for task in tasks)
        return {level.inventory_item_id: level for level in levels if level is not None}

    async def _inventory_level(
        self, inventory_item_id: str, location_id: str
    ) -> InventoryQuantities | None:
        data = await self.execute(
            "inventory_level", {"inventoryItemId": inventory_item_id, "locationId": location_id}
        )
        level = (data.get("inventoryItem") or {}).get("inventoryLevel")
        if level is None:
            return None
        quantities = {q["name"]: int(q["quantity"]) for q in level["quantities"]}
        return InventoryQuantities(
            inventory_item_id=inventory_item_id,
            location_id=location_id,
            available=quantities.get("available", 0),
            committed=quantities.get("committed", 0),
            on_hand=quantities.get("on_hand", 0),
        )

    async def item_levels(self, inventory_item_ids: Sequence[str]) -> dict[str, ItemLevels]:
        """Available stock per location of each item (absent: no such item), in batches."""
        found: dict[str, ItemLevels] = {}
        wanted = list(dict.fromkeys(inventory_item_ids))
        for start in range(0, len(wanted), ITEMS_PER_LEVELS_QUERY):
            data = await self.execute(
                "item_levels", {"ids": wanted[start : start + ITEMS_PER_LEVELS_QUERY]}
            )
            for node in data.get("nodes") or []:
                if not node or "inventoryLevels" not in node:
                    continue
                levels = node["inventoryLevels"]
                found[node["id"]] = ItemLevels(
                    inventory_item_id=node["id"],
                    sku=node.get("sku"),
                    available={
                        level["location"]["id"]: _available(level) for level in levels["nodes"]
                    },
                    more_locations=bool(levels["pageInfo"]["hasNextPage"]),
                )
        return found

    async def location_levels(
        self, location_id: str, page_size: int = 250
    ) -> AsyncIterator[list[ItemLevel]]:
        """Every item stocked at a location, a page at a time: (item id, SKU, available)."""
        after: str | None = None
        while True:
            data = await self.execute(
                "location_levels", {"id": location_id, "first": page_size, "after": after}
            )
            location = data.get("location")
            if location is None:
                raise ShopifyPermanent("location_levels", self.shop, f"no location {location_id}")
            levels = location["inventoryLevels"]
            yield [
                ItemLevel(
                    inventory_item_id=node["item"]["id"],
                    sku=node["item"].get("sku"),
                    available=_available(node),
                )
                for node in levels["nodes"]
            ]
            if not levels["pageInfo"]["hasNextPage"]:
                return
            after = levels["pageInfo"]["endCursor"]

    async def inventory_item_sku(self, inventory_item_id: str) -> str | None:
        data = await self.execute("inventory_item_sku", {"id": inventory_item_id})
        item = data.get("inventoryItem")
        return None if item is None else item.get("sku")

    async def adjust_inventory(
        self,
        changes: Sequence[InventoryDelta],
        *,
        reason: str,
        idempotency_key: str,
        name: str = "available",
        reference_document_uri: str | None = None,
    ) -> InventoryAdjustmentGroup | None:
        """Apply deltas once per idempotency key (inventoryAdjustQuantities, §6)."""
        rows = {"changes": [c.to_input() for c in changes]}
        return await self._inventory_mutation(
            "adjust_inventory",
            "inventoryAdjustQuantities",
            rows,
            reason,
            idempotency_key,
            name,
            reference_document_uri,
        )

    async def set_inventory(
        self,
        quantities: Sequence[InventoryTarget],
        *,
        reason: str,
        idempotency_key: str,
        name: str = "available",
        reference_document_uri: str | None = None,
    ) -> InventoryAdjustmentGroup | None:
        """Set absolute quantities once per idempotency key (inventorySetQuantities, §6)."""
        rows = {"quantities": [q.to_input() for q in quantities]}
        return await self._inventory_mutation(
            "set_inventory",
            "inventorySetQuantities",
            rows,
            reason,
            idempotency_key,
            name,
            reference_document_uri,
        )

    async def _inventory_mutation(
        self,
        operation_name: str,
        root_field: str,
        rows: Mapping[str, Any],
        reason: str,
        idempotency_key: str,
        name: str,
        reference_document_uri: str | None,
    ) -> InventoryAdjustmentGroup | None:
        variables = {
            "idempotencyKey": _idempotency_key(idempotency_key),
            "input": {
                "name": name,
                "reason": reason,
                "referenceDocumentUri": reference_document_uri,
                **rows,
            },
        }
        data = await self.execute(operation_name, variables)
        payload = self._payload(operation_name, data, root_field)
        group = payload.get("inventoryAdjustmentGroup")
        return None if group is None else InventoryAdjustmentGroup.model_validate(group)

    async def locations(self) -> list[Location]:
        """The shop's active locations."""
        data = await self.execute("locations", {})
        return [Location.model_validate(n) for n in data["locations"]["nodes"]]

    async def create_webhook_subscription(self, topic: str, uri: str) -> WebhookSubscription:
        """Subscribe `uri` to a topic given as the GraphQL enum (`FULFILLMENTS_CREATE`) or REST
        style (`fulfillments/create`)."""
        enum_topic = topic.upper().replace("/", "_")
        data = await self.execute("create_webhook_subscription", {"topic": enum_topic, "uri": uri})
        payload = self._payload("create_webhook_subscription", data, "webhookSubscriptionCreate")
        return WebhookSubscription.model_validate(payload["webhookSubscription"])

    async def webhook_subscriptions(self) -> list[WebhookSubscription]:
        """This app's subscriptions on this shop (a handful: one page of 100 is all of them)."""
        data = await self.execute("webhook_subscriptions", {"first": 100})
        return [
            WebhookSubscription.model_validate(n) for n in data["webhookSubscriptions"]["nodes"]
        ]

    async def update_webhook_subscription(self, subscription_id: str, uri: str) -> None:
        data = await self.execute(
            "update_webhook_subscription", {"id": subscription_id, "uri": uri}
        )
        self._payload("update_webhook_subscription", data, "webhookSubscriptionUpdate")


# --- helpers ------------------------------------------------------------------------------


def _numeric_id(gid: str) -> int:
    tail = gid.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _search_term(value: str, what: str) -> str:
    """`value` as one term of Shopify's search syntax: bare when it is a plain token, else
    quoted. A value holding both quote characters is refused rather than guessed at: a
    mangled term could widen a dedupe lookup."""
    if _SEARCH_TERM.match(value):
        return value
    for quote in ('"', "'"):
        if quote not in value and value.strip():
            return f"{quote}{value}{quote}"
    raise ValueError(f"{what} {value!r} cannot be written as a Shopify search term")


def _page_size(count: int) -> int:
    """A page that holds `count` items, within Shopify's 1..250 page bounds."""
    return max(1, min(count, 250))


def _idempotency_key(key: str) -> str:
    # The @idempotent key may not be empty or whitespace only (schema directive description).
    if not key.strip():
        raise ValueError("an idempotency key must not be blank")
    return key


def _json_or_none(response: httpx.Response) -> dict[str, Any] | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _cost_report(payload: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    extensions = (payload or {}).get("extensions")
    cost = extensions.get("cost") if isinstance(extensions, Mapping) else None
    return cost if isinstance(cost, Mapping) else None


def _requested_cost(cost: Mapping[str, Any] | None) -> int | None:
    value = (cost or {}).get("requestedQueryCost")
    return int(value) if isinstance(value, int | float) else None


def _has_error_code(payload: Mapping[str, Any] | None, code: str) -> bool:
    errors = (payload or {}).get("errors")
    if not isinstance(errors, list):
        return False
    return any(
        isinstance(e, Mapping) and (e.get("extensions") or {}).get("code") == code for e in errors
    )


def _messages(errors: Any) -> list[str]:
    if isinstance(errors, str):
        return [errors]
    if isinstance(errors, list):
        return [str(e.get("message", e)) if isinstance(e, Mapping) else str(e) for e in errors]
    return [str(errors)]


def _said(response: httpx.Response, payload: Mapping[str, Any] | None) -> str:
    if payload is not None and payload.get("errors"):
        return "; ".join(_messages(payload["errors"]))
    return response.text[:300] or response.reason_phrase


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


__all__ = ["API_VERSION", "ShopifyClient", "ShopifyError"]


def _available(level: Mapping[str, Any]) -> int:
    return next(
        (int(q["quantity"]) for q in level.get("quantities") or () if q["name"] == "available"), 0
    )
