"""ShopifyClient's order state, edits, refunds and restock against the sandbox over HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import ValidationError

from shopbridge.shopify.client import ShopifyClient
from shopbridge.shopify.errors import ShopifyUserError
from shopbridge.shopify.models import (
    CreatedOrder,
    FulfilledLine,
    InventoryDelta,
    OrderLine,
    RefundLine,
)
from shopbridge.shopify.throttle import ShopBucket
from shopbridge_sandbox.serving import BackgroundServer
from shopbridge_sandbox.shopify import ShopifySandbox, StoreCredentials


class RecordingTransport(httpx.AsyncHTTPTransport):
    """A real loopback transport that remembers the operation name of every request."""

    def __init__(self) -> None:
        super().__init__()
        self.operations: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.operations.append(json.loads(request.content)["operationName"])
        return await super().handle_async_request(request)


@pytest.fixture
def transport() -> RecordingTransport:
    return RecordingTransport()


@pytest.fixture
async def recorded(
    server: BackgroundServer, store: StoreCredentials, transport: RecordingTransport
) -> AsyncIterator[ShopifyClient]:
    """A client whose requests' operation names `transport.operations` lists."""
    async with ShopifyClient(
        store.domain,
        store.access_token,
        base_url=server.base_url,
        bucket=ShopBucket(),
        transport=transport,
    ) as client:
        yield client


async def _mirror(shopify: ShopifyClient, tee: dict[str, str], quantity: int = 3) -> CreatedOrder:
    return await shopify.create_order(
        source_identifier="577000111222333",
        currency="USD",
        lines=[OrderLine(variant_id=tee["id"], quantity=quantity, unit_price="19.99")],
    )


def _stock(sandbox: ShopifySandbox) -> tuple[int, int, int]:
    levels = sandbox.inventory("demo", "TEE-RED-L")
    return levels["available"], levels["committed"], levels["on_hand"]


async def test_create_order_returns_its_line_items(
    shopify: ShopifyClient, tee: dict[str, str]
) -> None:
    """orderCreate's own answer carries the new lines' ids, SKUs and quantities."""
    created = await _mirror(shopify, tee)

    [line] = created.line_items
    assert line.id.startswith("gid://shopify/LineItem/")
    assert (line.sku, line.quantity, line.current_quantity) == ("TEE-RED-L", 3, 3)


async def test_order_state_reads_lines_fulfilled_lines_refunds_and_editability(
    shopify: ShopifyClient, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, str]
) -> None:
    """After a shipment and a return, the state shows each line's quantities, the fulfilment's
    lines, the refund and that the order is still editable."""
    created = await _mirror(shopify, tee, quantity=2)
    [line] = created.line_items
    sandbox.fulfill_order(store.name, created.id, company="UPS", number="1Z999AA10123456784")
    refund_id = await shopify.create_refund(
        created.id,
        [
            RefundLine(
                line_item_id=line.id,
                quantity=1,
                restock_type="RETURN",
                location_id=store.location_ids[0],
            )
        ],
        note="TikTok return 1",
        idempotency_key="tts-577-return-1",
    )

    state = await shopify.get_order_detail(created.id)

    assert state is not None
    [read] = state.line_items
    assert (read.id, read.quantity, read.current_quantity, read.unfulfilled_quantity) == (
        line.id,
        2,
        1,
        0,
    )
    [fulfillment] = state.fulfillments
    assert fulfillment.fulfillment_line_items == [
        FulfilledLine(line_item_id=line.id, sku="TEE-RED-L", quantity=2)
    ]
    assert fulfillment.location_id == store.location_ids[0]
    assert [(r.id, r.note) for r in state.refunds] == [(refund_id, "TikTok return 1")]
    assert state.merchant_editable
    assert state.fulfillment_orders[0].location_id == store.location_ids[0]


async def test_edit_line_quantities_removes_units_and_restocks_them(
    shopify: ShopifyClient, sandbox: ShopifySandbox, tee: dict[str, str]
) -> None:
    """Lowering a 3-unit line to 1: begin, set, commit; 2 units back to available."""
    created = await _mirror(shopify, tee)
    [line] = created.line_items

    await shopify.edit_line_quantities(created.id, {line.id: 1}, staff_note="TikTok cancel")

    state = await shopify.get_order_detail(created.id)
    assert state is not None
    assert state.line_items[0].current_quantity == 1
    assert _stock(sandbox) == (9, 1, 10)


async def test_edit_to_the_current_quantity_sends_no_edit(
    recorded: ShopifyClient, transport: RecordingTransport, tee: dict[str, str]
) -> None:
    """A line already at (or below) its target is skipped; with nothing to change only the
    order is read, no session is begun."""
    created = await _mirror(recorded, tee)
    [line] = created.line_items
    transport.operations.clear()

    await recorded.edit_line_quantities(created.id, {line.id: 3})
    await recorded.edit_line_quantities(created.id, {line.id: 5})

    assert transport.operations == ["GetOrderDetail", "GetOrderDetail"]


async def test_edit_sends_one_set_quantity_per_changed_line(
    recorded: ShopifyClient,
    transport: RecordingTransport,
    sandbox: ShopifySandbox,
    tee: dict[str, str],
) -> None:
    """Read, begin, one orderEditSetQuantity per line that changes, commit."""
    created = await _mirror(recorded, tee)
    [line] = created.line_items
    transport.operations.clear()

    await recorded.edit_line_quantities(created.id, {line.id: 2}, restock=False)

    assert transport.operations == [
        "GetOrderDetail",
        "BeginOrderEdit",
        "SetOrderEditQuantity",
        "CommitOrderEdit",
    ]
    assert _stock(sandbox) == (7, 2, 9)


async def test_an_edit_with_the_quantities_just_read_does_not_read_again(
    recorded: ShopifyClient,
    transport: RecordingTransport,
    sandbox: ShopifySandbox,
    tee: dict[str, str],
) -> None:
    """The engine has just read the order: given every line's current quantity, the edit
    goes straight to begin, set and commit."""
    created = await _mirror(recorded, tee)
    [line] = created.line_items
    transport.operations.clear()

    await recorded.edit_line_quantities(created.id, {line.id: 2}, current={line.id: 3})

    assert transport.operations == ["BeginOrderEdit", "SetOrderEditQuantity", "CommitOrderEdit"]
    state = await recorded.get_order_detail(created.id)
    assert state is not None and state.line_items[0].current_quantity == 2


async def test_editing_below_the_fulfilled_units_raises_shopifys_message(
    shopify: ShopifyClient, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, str]
) -> None:
    """A shipped order can't lose shipped units: ShopifyUserError quoting Shopify, no change."""
    created = await _mirror(shopify, tee, quantity=2)
    [line] = created.line_items
    sandbox.fulfill_order(store.name, created.id)

    with pytest.raises(ShopifyUserError) as refused:
        await shopify.edit_line_quantities(created.id, {line.id: 0})

    assert refused.value.field == ("quantity",)
    assert "only unfulfilled items can be edited" in refused.value.message
    state = await shopify.get_order_detail(created.id)
    assert state is not None and state.line_items[0].current_quantity == 2


async def test_a_cancelled_order_is_not_edited(
    shopify: ShopifyClient, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, str]
) -> None:
    """merchantEditable false: ShopifyUserError with Shopify's reason, nothing begun."""
    created = await _mirror(shopify, tee)
    [line] = created.line_items
    sandbox.cancel_order_as_merchant(store.name, created.id)

    with pytest.raises(ShopifyUserError, match="Canceled orders can't be edited"):
        await shopify.edit_line_quantities(created.id, {line.id: 1})


async def test_unknown_lines_are_refused_before_anything_is_sent(
    recorded: ShopifyClient, transport: RecordingTransport, tee: dict[str, str]
) -> None:
    """A LineItem gid not on the order, or a negative quantity, is a caller's error."""
    created = await _mirror(recorded, tee)
    transport.operations.clear()

    with pytest.raises(ValueError, match="can't be negative"):
        await recorded.edit_line_quantities(created.id, {created.line_items[0].id: -1})
    with pytest.raises(ValueError, match="no line items gid://shopify/LineItem/999"):
        await recorded.edit_line_quantities(created.id, {"gid://shopify/LineItem/999": 0})

    assert transport.operations == ["GetOrderDetail"]


async def test_a_refund_repeated_with_its_key_applies_once(
    shopify: ShopifyClient,
    sandbox: ShopifySandbox,
    store: StoreCredentials,
    tee: dict[str, str],
) -> None:
    """create_refund twice with one key: the same refund id, the unit restocked once."""
    created = await _mirror(shopify, tee, quantity=2)
    sandbox.fulfill_order(store.name, created.id)
    lines = [
        RefundLine(
            line_item_id=created.line_items[0].id,
            quantity=1,
            restock_type="RETURN",
            location_id=store.location_ids[0],
        )
    ]

    first = await shopify.create_refund(created.id, lines, note="r", idempotency_key="k-1")
    second = await shopify.create_refund(created.id, lines, note="r", idempotency_key="k-1")

    assert first == second
    assert first.startswith("gid://shopify/Refund/")
    assert _stock(sandbox) == (9, 0, 9)


async def test_refunding_more_than_refundable_raises(
    shopify: ShopifyClient, tee: dict[str, str]
) -> None:
    """Cancelling 4 units of a 3-unit line: ShopifyUserError naming the refund line."""
    created = await _mirror(shopify, tee)
    lines = [RefundLine(line_item_id=created.line_items[0].id, quantity=4, restock_type="CANCEL")]

    with pytest.raises(ShopifyUserError) as refused:
        await shopify.create_refund(created.id, lines, note="x", idempotency_key="k-over")

    assert refused.value.field == ("refundLineItems", "0", "quantity")


def test_a_return_line_needs_a_location() -> None:
    """RETURN restocks at a location, so a RefundLine without one is refused at once."""
    with pytest.raises(ValidationError, match="location_id"):
        RefundLine(line_item_id="gid://shopify/LineItem/1", quantity=1, restock_type="RETURN")


async def test_restock_of_returned_goods_is_applied_once_per_key(
    shopify: ShopifyClient, sandbox: ShopifySandbox, store: StoreCredentials, tee: dict[str, str]
) -> None:
    """adjust_inventory with reason `restock` and one key, sent twice: available +2 once."""
    delta = InventoryDelta(
        inventory_item_id=tee["inventory_item_id"], location_id=store.location_ids[0], delta=2
    )

    for _ in range(2):
        group = await shopify.adjust_inventory(
            [delta], reason="restock", idempotency_key="tts-577-restock-1"
        )
        assert group is not None and group.reason == "restock"

    assert _stock(sandbox) == (12, 0, 12)
