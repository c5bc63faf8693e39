"""The merchant's answers from the order page: approve, reject, retry, each through the bridge."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest

from shopbridge.engine.ports import PermanentError
from shopbridge.store import Fence
from shopbridge.web.accounts import User
from support.orders import unit_id

from .conftest import Shop, csrf_of, login, post

ORDER_ID, CANCEL_ID = "576486316948490001", "4035318504086604100"
# A reject reason key TikTok lists (tiktok_shop_api.md §4.2).
PACKED = "seller_reject_apply_product_has_been_packed"


def order_url(shop: Shop, order_id: str = ORDER_ID) -> str:
    return f"/connections/{shop.connection_id}/orders/{order_id}"


def flash(html: str) -> str:
    found = re.search(r'data-testid="flash">([^<]*)<', html)
    assert found, "the page shows the outcome"
    return found.group(1)


def requested(shop: Shop) -> None:
    """A released order whose buyer asked to cancel: the seller must answer."""
    shop.paid(ORDER_ID)
    shop.release_all()
    shop.request_cancel(ORDER_ID, CANCEL_ID)


def test_pending_request_offers_approve_and_reject(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """An order with a pending cancellation request is badged and offers Approve and Reject."""
    requested(shop)
    login(client, merchant.email)
    rows = client.get(f"/connections/{shop.connection_id}/orders").text
    assert "Cancellation request until" in rows
    html = client.get(order_url(shop)).text
    assert 'data-testid="approve"' in html
    assert 'data-testid="reject"' in html
    assert "waiting for your answer" in html


def test_approve_cancels_in_shopify_then_on_tiktok(
    client: httpx.Client, merchant: User, shop: Shop, app_wakes: list[int]
) -> None:
    """Approve is applied, wakes the worker, and the order ends Canceled on both platforms."""
    requested(shop)
    login(client, merchant.email)
    response = post(
        client, f"{order_url(shop)}/cancellation/approve", order_url(shop), cancel_id=CANCEL_ID
    )
    assert response.status_code == 303
    assert "Approved: cancelling in Shopify first" in flash(client.get(order_url(shop)).text)
    assert app_wakes, "the worker was woken to run the cancellation at once"
    shop.settle()
    assert shop.world.tiktok.answers == {CANCEL_ID: "approve"}
    html = client.get(order_url(shop)).text
    assert re.search(r'data-testid="order-status">Canceled<', html)
    assert 'data-testid="approve"' not in html


def test_approve_of_a_fulfilled_order_is_refused_in_plain_words(
    client: httpx.Client, merchant: User, shop: Shop, app_wakes: list[int]
) -> None:
    """Row 5a: approving when the Shopify order is already fulfilled is refused, saying why."""
    shop.paid(ORDER_ID)
    shop.release_all()
    shop.fulfil(ORDER_ID)
    shop.request_cancel(ORDER_ID, CANCEL_ID)
    login(client, merchant.email)
    post(client, f"{order_url(shop)}/cancellation/approve", order_url(shop), cancel_id=CANCEL_ID)
    html = client.get(order_url(shop)).text
    assert "The Shopify order is already fulfilled" in flash(html)
    assert 'class="flash flash-error"' in html
    assert app_wakes == []
    assert shop.mirror(ORDER_ID).phase == "fulfilled"


def test_reject_in_the_us_is_refused_in_plain_words(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """In the US TikTok takes no rejections by API: the page says to ship the parcel instead."""
    requested(shop)
    login(client, merchant.email)
    post(
        client,
        f"{order_url(shop)}/cancellation/reject",
        order_url(shop),
        cancel_id=CANCEL_ID,
        reason=PACKED,
    )
    message = flash(client.get(order_url(shop)).text)
    assert "no longer accepts rejections through the API" in message


def test_reject_outside_the_us_is_sent(
    client: httpx.Client, merchant: User, shop: Shop, app_wakes: list[int]
) -> None:
    """In the UK a rejection with a reason is accepted and shown as on its way to TikTok."""
    shop.world.store.update_connection(shop.connection_id, tiktok_region="GB")
    requested(shop)
    login(client, merchant.email)
    post(
        client,
        f"{order_url(shop)}/cancellation/reject",
        order_url(shop),
        cancel_id=CANCEL_ID,
        reason=PACKED,
        comment="Already with the courier",
    )
    html = client.get(order_url(shop)).text
    assert "Rejected: sending the rejection to TikTok." in flash(html)
    assert "you rejected" in html
    assert app_wakes


def test_reject_without_a_known_reason_is_a_bad_request(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """A rejection must carry one of TikTok's reasons."""
    requested(shop)
    login(client, merchant.email)
    response = post(
        client,
        f"{order_url(shop)}/cancellation/reject",
        order_url(shop),
        cancel_id=CANCEL_ID,
        reason="because",
    )
    assert response.status_code == 400
    assert shop.mirror(ORDER_ID).cancel_request_deadline is not None


def test_failed_action_has_a_retry_button_that_runs_it_again(
    client: httpx.Client, merchant: User, shop: Shop, app_wakes: list[int]
) -> None:
    """A permanently failed action shows Retry; Retry unblocks it and the worker runs it."""
    shop.world.shopify.fail_next["create_pending_order"].append(
        PermanentError("Shopify refused the order: shop is frozen")
    )
    shop.paid(ORDER_ID)
    assert shop.mirror(ORDER_ID).needs_attention
    login(client, merchant.email)
    listing = client.get(f"/connections/{shop.connection_id}/orders").text
    assert "Needs attention" in listing
    html = client.get(order_url(shop)).text
    found = re.search(r'data-testid="retry" data-kind="([a-z_]+)"', html)
    assert found
    assert "shop is frozen" in html
    post(client, f"{order_url(shop)}/retry", order_url(shop), kind=found.group(1))
    assert flash(client.get(order_url(shop)).text) == "Retrying now."
    assert app_wakes
    shop.settle()
    row = shop.mirror(ORDER_ID)
    assert row.shopify_order_id is not None
    assert not row.needs_attention
    assert 'data-testid="retry"' not in client.get(order_url(shop)).text


STATE_CHANGING = [
    "/logout",
    "{order}/cancellation/approve",
    "{order}/cancellation/reject",
    "{order}/retry",
    "{order}/items/cancel",
    "{order}/returns/R1/restock",
    "/connections/{cid}/settings/holdback",
    "/connections/{cid}/settings/orders",
    "/connections/{cid}/settings/carriers",
    "/connections/{cid}/settings/carriers/remove",
]


@pytest.mark.parametrize("path", STATE_CHANGING)
def test_post_without_csrf_token_is_forbidden(
    client: httpx.Client, merchant: User, shop: Shop, app_wakes: list[int], path: str
) -> None:
    """Every state-changing request without the session's CSRF token is refused with 403."""
    requested(shop)
    login(client, merchant.email)
    url = path.format(order=order_url(shop), cid=shop.connection_id)
    data = {
        "cancel_id": CANCEL_ID,
        "reason": PACKED,
        "kind": "create_order",
        "holdback_minutes": "120",
        "shopify_company": "UPS",
        "tiktok_provider": "UPS",
        "unit_ids": unit_id(ORDER_ID, 0, 0),
        "restock_returns": "1",
    }
    assert client.post(url, data=data).status_code == 403
    assert client.post(url, data={**data, "csrf_token": "forged"}).status_code == 403
    assert app_wakes == []
    connection = shop.world.store.get_connection(shop.connection_id)
    assert connection.holdback_minutes == 60
    assert connection.carrier_mapping == {}
    assert not connection.restock_returns
    assert "waiting for your answer" in client.get(order_url(shop)).text


def test_htmx_header_carries_the_csrf_token(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """The token in the X-CSRF-Token header (htmx requests) is accepted like the form field."""
    login(client, merchant.email)
    page = f"/connections/{shop.connection_id}/settings"
    token = csrf_of(client.get(page).text)
    response = client.post(
        f"{page}/holdback", data={"holdback_minutes": "90"}, headers={"X-CSRF-Token": token}
    )
    assert response.status_code == 200
    assert shop.world.store.get_connection(shop.connection_id).holdback_minutes == 90


def test_unsupported_carrier_is_named_with_a_retry(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """Row 6: tracking from a carrier TikTok does not offer is shown naming it, with Retry."""
    shop.paid(ORDER_ID)
    shop.release_all()
    shop.fulfil(ORDER_ID, "Bonshaw", "BSH123456")
    login(client, merchant.email)
    row = client.get(f"/connections/{shop.connection_id}/orders").text
    assert "Needs attention" in row
    html = client.get(order_url(shop)).text
    attention = html[html.index('data-testid="attention"') :]
    assert "Bonshaw" in attention[: attention.index("</section>")]
    assert 'data-testid="retry"' in attention
    assert "not sent to TikTok yet" in html


def test_stuck_work_is_explained_and_retried_from_the_order_page(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """A deadline that kept failing is shown on its order with why; Retry runs it again with a
    fresh set of attempts and the order is no longer stuck."""
    shop.paid(ORDER_ID)
    store = shop.world.store
    shop.clock.advance(timedelta(minutes=61))
    [deadline] = store.claim_deadlines("w1", 1, timedelta(seconds=10))
    with store.unit(shop.connection_id) as unit:
        unit.fail_deadline(deadline.id, Fence("w1", deadline.attempts), "database on fire")
        unit.mark_stuck(deadline.order_mirror_id, "Could not process the holdback deadline.")
    login(client, merchant.email)
    page = client.get(order_url(shop)).text
    assert "Could not process the holdback deadline." in page
    assert 'data-testid="retry-stuck"' in page
    post(client, f"{order_url(shop)}/retry-stuck", order_url(shop))
    assert flash(client.get(order_url(shop)).text) == "Retrying now."
    [again] = store.deadlines_for_mirror(deadline.order_mirror_id)
    assert again.failed_at is None and again.attempts == 0
    shop.settle()
    row = shop.mirror(ORDER_ID)
    assert row.phase == "released" and row.stuck_reason is None and not row.needs_attention
