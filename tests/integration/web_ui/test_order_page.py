"""The order page says what matters (issue 15): a plain-language summary on top for every path of
workflow.md's timeline, the badge naming what holds the order, a pending request's Approve /
Reject first with its deadline, the timeline by step with set-aside updates folded away, TikTok
statuses and actions in words. Orders are brought to each state through the real bridge; times
are New York's (the world's connection), five hours behind UTC in November."""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import replace
from datetime import timedelta

import httpx

from shopbridge.domain import events as ev
from shopbridge.web.accounts import User
from shopbridge.web.order_view import order_view
from support.orders import snapshot, unit_id

from .conftest import Shop, login, post

ORDER_ID, CANCEL_ID = "576486316948490001", "4035318504086604100"
SKUS = {"TEE-RED-L": 2, "MUG": 1}
MUG = unit_id(ORDER_ID, 1, 0)
FRAUD = "system_cancel_anti_span_block"  # TikTok's reason key for a fraud block (sandbox catalog)
UNPAID_TIMEOUT = "system_cancel_unpaid_time_out"
PACKED = "seller_reject_apply_product_has_been_packed"


def order_url(shop: Shop) -> str:
    return f"/connections/{shop.connection_id}/orders/{ORDER_ID}"


def page(client: httpx.Client, shop: Shop) -> str:
    return html_lib.unescape(client.get(order_url(shop)).text)


def story(html: str) -> str:
    found = re.search(r'data-testid="story">([^<]*)<', html)
    assert found, "the page opens with the order's story"
    return found.group(1)


def summary_details(html: str) -> list[str]:
    return re.findall(r'data-testid="summary-detail">([^<]*)<', html)


def todo(html: str) -> str:
    start = html.index('data-testid="todo"')
    return html[start : html.index("</div>", start)]


def badges(html: str) -> list[str]:
    head = html[html.index('id="order-head"') : html.index('data-testid="summary"')]
    return re.findall(r'data-testid="badge"[^>]*>([^<]*)<', head)


def steps_section(html: str) -> str:
    start = html.index('id="order-timeline"')
    return html[start : html.index("</section>", start)]


def technical(html: str) -> str:
    start = html.index('data-testid="technical"')
    return html[start : html.index("</details>", start)]


def step_titles(html: str) -> list[str]:
    return re.findall(r'data-testid="step-title">([^<]*)<', html)


def requested(shop: Shop) -> None:
    """Released, then the buyer asks to cancel: a request the seller must answer."""
    shop.paid(ORDER_ID)
    shop.release_all()
    shop.request_cancel(ORDER_ID, CANCEL_ID)


def cancelled_by_tiktok(shop: Shop, *, reason: str, paid: bool) -> None:
    """TikTok cancels the order itself (role SYSTEM) and keeps its own record of the cancel."""
    shop.clock.advance(timedelta(minutes=30))
    now = shop.clock.now()
    paid_at = shop.paid_times.get(ORDER_ID) if paid else None
    shop.world.observe(
        snapshot(
            "CANCELLED",
            at=now,
            paid=paid_at,
            order_id=ORDER_ID,
            initiator="SYSTEM",
            reason=reason,
        )
    )
    record = ev.CancellationObserved(
        CANCEL_ID, "CANCELLATION_REQUEST_COMPLETE", "SYSTEM", now, cancel_type="CANCEL"
    )
    shop.world.tiktok.cancellations[ORDER_ID].append(record)
    shop.world.apply(ORDER_ID, record)
    shop.settle()


# --- the summary, one test per path of workflow.md's timeline ------------------------------


def test_unpaid_order_summary_says_its_stock_is_reserved_until_tiktok_gives_up(
    shop: Shop,
) -> None:
    """Row 1: an unpaid order (not listed yet) is reserved in Shopify until TikTok's 24 hours."""
    shop.unpaid(ORDER_ID)
    connection = shop.world.store.get_connection(shop.connection_id)
    view = order_view(shop.mirror(ORDER_ID), connection)
    assert view.summary.story == (
        "Ordered 04:00, awaiting payment, the stock is reserved in Shopify (payment pending, "
        "on hold); TikTok cancels it if it is not paid by 3 Nov 04:00."
    )
    assert view.status == "Awaiting payment"


def test_paid_order_in_holdback_says_until_when(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """Row 3b: paid at 09:01 UTC, held until 10:01 UTC: 04:01 and 05:01 in New York."""
    shop.paid(ORDER_ID)
    login(client, merchant.email)
    html = page(client, shop)
    assert story(html) == (
        "Paid 04:01, in holdback until 05:01: on hold in Shopify while the buyer can still "
        "cancel freely."
    )
    assert badges(html) == ["In holdback until 05:01"]


def test_released_order_says_it_is_ready_to_fulfil(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """Row 4b: after the holdback the order is released."""
    shop.paid(ORDER_ID)
    shop.release_all()
    login(client, merchant.email)
    assert story(page(client, shop)) == (
        "Paid 04:01, held until 05:01, then released in Shopify: marked paid, ready to fulfil."
    )


def test_fulfilled_order_says_it_shipped_on_tiktok(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """Row 6: fulfilled in Shopify, its tracking sent to TikTok."""
    shop.paid(ORDER_ID)
    shop.release_all()
    shop.fulfil(ORDER_ID, "UPS", "1Z999AA10123456784")
    login(client, merchant.email)
    assert story(page(client, shop)) == (
        "Paid 04:01, held until 05:01, then released; "
        "fulfilled in Shopify (UPS 1Z999AA10123456784) and shipped on TikTok."
    )


def test_buyer_cancel_in_the_holdback_says_who_and_that_stock_came_back(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """Row 4a: the buyer cancels within the first hour; both platforms follow, stock returned."""
    shop.paid(ORDER_ID)
    shop.cancel(ORDER_ID)
    login(client, merchant.email)
    assert story(page(client, shop)) == (
        "Paid 04:01; the buyer cancelled it during the holdback; "
        "cancelled in Shopify and TikTok, stock returned."
    )


def test_seller_cancel_of_the_whole_order_says_out_of_stock(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """The merchant cancels every item from the order page: TikTok cancels the order."""
    shop.paid(ORDER_ID, skus=SKUS)
    login(client, merchant.email)
    units = [unit_id(ORDER_ID, 0, 0), unit_id(ORDER_ID, 0, 1), MUG]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page(client, shop))
    assert token
    client.post(
        f"{order_url(shop)}/items/cancel", data={"csrf_token": token.group(1), "unit_ids": units}
    )
    shop.settle()
    assert story(page(client, shop)) == (
        "Paid 04:01; the seller cancelled it on TikTok: out of stock; "
        "cancelled in Shopify and TikTok, stock returned."
    )


def test_fraud_cancel_reads_as_tiktok_cancelling_for_suspected_fraud(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """TikTok's fraud block (cancel_user SYSTEM) is neither a request nor 'the system asked'."""
    shop.paid(ORDER_ID)
    cancelled_by_tiktok(shop, reason=FRAUD, paid=True)
    login(client, merchant.email)
    html = page(client, shop)
    assert story(html) == (
        "Paid 04:01; TikTok cancelled it as suspected fraud during the holdback; "
        "cancelled in Shopify and TikTok, stock returned."
    )
    assert "asked to cancel" not in html
    assert 'data-testid="cancellation"' not in html, "no request card for TikTok's own cancel"
    assert badges(html) == []  # the status says Canceled; no badge repeats it


def test_unpaid_timeout_reads_as_not_paid_in_time(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """Row 3a: TikTok cancels an order unpaid after 24 hours; it says so, not 'the system'."""
    shop.unpaid(ORDER_ID)
    shop.clock.advance(timedelta(hours=24))
    cancelled_by_tiktok(shop, reason=UNPAID_TIMEOUT, paid=False)
    login(client, merchant.email)
    html = page(client, shop)
    assert story(html) == (
        "Ordered 04:00, never paid; TikTok cancelled it: not paid in time; "
        "cancelled in Shopify and TikTok, stock returned."
    )
    assert "asked to cancel" not in html


def test_pending_request_is_badged_and_answered_first_with_its_deadline(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """Row 5: the badge names the request and its deadline (not a holdback), and Approve /
    Reject come right under the summary, before the items, with the time to answer by."""
    shop.paid(ORDER_ID)
    shop.request_cancel(ORDER_ID, CANCEL_ID)  # still inside the holdback
    login(client, merchant.email)
    html = page(client, shop)
    # Asked at 09:02 UTC, TikTok decides 48 hours later: 4 Nov 04:02 in New York.
    assert badges(html) == ["Cancellation request until 4 Nov 04:02"]
    assert "In holdback until" not in html
    assert story(html) == (
        "Paid 04:01, on hold in Shopify; "
        "then the buyer asked to cancel: answer by 4 Nov 04:02, or TikTok decides."
    )
    assert re.search(r'data-testid="order-status">Cancellation requested<', html)
    card = html.index('data-testid="cancellation"')
    assert html.index('data-testid="summary"') < card < html.index('id="order-items"')
    answer_by = re.search(r'data-testid="answer-by">([^<]*)<', html)
    assert answer_by and answer_by.group(1).strip() == "Answer by 4 Nov 04:02, or TikTok decides."
    assert card < html.index('data-testid="approve"') < html.index('id="order-items"')
    assert card < html.index('data-testid="reject"') < html.index('id="order-items"')


def test_approved_request_says_you_approved_and_both_platforms_cancelled(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """Row 5a: Shopify cancelled first, then TikTok approved; stock returned."""
    requested(shop)
    login(client, merchant.email)
    post(client, f"{order_url(shop)}/cancellation/approve", order_url(shop), cancel_id=CANCEL_ID)
    html = page(client, shop)
    assert story(html) == (
        "Paid 04:01, held until 05:01 and released; then the buyer asked to cancel; "
        "you approved: cancelling in Shopify first, then approving on TikTok."
    )
    assert badges(html) == ["Cancelling: you approved the request"]
    shop.settle()
    assert story(page(client, shop)) == (
        "Paid 04:01, held until 05:01; then the buyer asked to cancel; you approved; "
        "cancelled in Shopify with restock, approved on TikTok."
    )
    # TikTok then cancels the order and closes the request, and says so.
    shop.clock.advance(timedelta(minutes=1))
    now = shop.clock.now()
    paid = shop.paid_times[ORDER_ID]
    shop.world.observe(
        snapshot("CANCELLED", at=now, paid=paid, initiator="BUYER", reason="No longer needed")
    )
    shop.world.apply(
        ORDER_ID,
        ev.CancellationObserved(CANCEL_ID, "CANCELLATION_REQUEST_COMPLETE", "BUYER", now),
    )
    shop.settle()
    assert story(page(client, shop)) == (
        "Paid 04:01, held until 05:01; then the buyer asked to cancel; you approved; "
        "cancelled in Shopify and TikTok, stock returned."
    )


def test_rejected_request_says_you_rejected_it_and_the_order_goes_on(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """Row 5b (UK, where TikTok takes rejections by API): rejected, the order stays released."""
    shop.world.store.update_connection(shop.connection_id, tiktok_region="GB")
    requested(shop)
    login(client, merchant.email)
    post(
        client,
        f"{order_url(shop)}/cancellation/reject",
        order_url(shop),
        cancel_id=CANCEL_ID,
        reason=PACKED,
    )
    shop.settle()
    html = page(client, shop)
    assert story(html) == (
        "Paid 04:01, held until 05:01 and released; then the buyer asked to cancel; "
        "you rejected it."
    )
    assert re.search(r'data-testid="order-status">Ready to fulfil<', html)
    assert badges(html) == []  # the status says it
    assert "Rejected the buyer's cancellation request on TikTok" in technical(html)
    assert "tik tok" not in html.lower()


def test_flagged_order_says_what_to_do_and_the_badge_names_why(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """An order whose SKU Shopify lacks needs attention: the badge says why, the summary what
    to do about it."""
    shop.paid(ORDER_ID, skus={"GHOST-HAT": 1})
    login(client, merchant.email)
    html = page(client, shop)
    assert badges(html) == [
        "In holdback until 05:01",
        "Needs attention: a SKU is missing in Shopify",
    ]
    assert "Give the Shopify variant the same SKU as the TikTok seller SKU." in todo(html)


def test_failed_action_is_named_in_words_with_what_to_do(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """A command that failed for good reads as what it does ("sending tracking to TikTok"),
    never as its kind ("ship on tiktok"), in the badge, the summary and the timeline."""
    shop.paid(ORDER_ID)
    shop.release_all()
    row = shop.mirror(ORDER_ID)
    assert row.shopify_order_id is not None
    box = shop.world.shopify.fulfil(row.shopify_order_id, "UPS", "1Z999AA1")
    shop.world.apply(ORDER_ID, ev.ShopifyFulfilmentObserved(box.fulfillment_id, "UPS", "1Z999AA1"))
    state = shop.mirror(ORDER_ID).state
    assert state is not None
    key = state["in_flight"]["key"]
    shop.world.apply(ORDER_ID, ev.ActionFailed(key, "ship_on_tiktok", "TikTok said no: 36009003"))
    login(client, merchant.email)
    html = page(client, shop)
    assert "Needs attention: sending tracking to TikTok failed" in badges(html)
    assert (
        "Sending tracking to TikTok failed: TikTok said no: 36009003. Fix the cause, then press "
        "Retry." in todo(html)
    )
    assert "Gave up on sending tracking to TikTok: TikTok said no: 36009003" in steps_section(html)
    assert "ship on tiktok" not in html.lower()


def test_items_cancelled_on_their_own_are_told_apart_from_the_order(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """The merchant cancels the mug (out of stock): the rest of the order goes on."""
    shop.paid(ORDER_ID, skus=SKUS)
    login(client, merchant.email)
    post(client, f"{order_url(shop)}/items/cancel", order_url(shop), unit_ids=MUG)
    shop.settle()
    html = page(client, shop)
    assert story(html).startswith("Paid 04:01, in holdback until 05:01")
    assert summary_details(html) == [
        "1 × MUG cancelled on TikTok by the seller (out of stock), taken off the Shopify "
        "order, stock returned."
    ]


def test_return_is_summarised_with_what_is_left_to_do(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """A completed return of goods: refunded in Shopify, waiting for the merchant's Restock."""
    shop.paid(ORDER_ID)
    shop.release_all()
    shop.fulfil(ORDER_ID)
    event = ev.ReturnObserved(
        "R1",
        "RETURN_OR_REFUND_REQUEST_COMPLETE",
        "RETURN_AND_REFUND",
        (unit_id(ORDER_ID, 0, 0),),
        shop.clock.now(),
    )
    shop.world.tiktok.returns[ORDER_ID].append(event)
    shop.world.apply(ORDER_ID, event)
    shop.settle()
    login(client, merchant.email)
    assert summary_details(page(client, shop)) == [
        "Return and refund R1 of 1 × TEE-RED-L: complete: TikTok refunded the buyer; recorded "
        "in Shopify as a refund; not restocked: check the goods, then Restock puts them back "
        "on sale in Shopify."
    ]


# --- the timeline by step --------------------------------------------------------------------


def test_timeline_is_grouped_by_step_with_set_aside_updates_folded_away(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """A repeated TikTok webhook is set aside: it is in the technical details (closed), not in
    the steps; the steps carry no EVENT/DECISION/RESULT labels."""
    shop.paid(ORDER_ID)
    shop.world.apply(ORDER_ID, ev.TikTokOrderObserved(shop.world.tiktok.orders[ORDER_ID]))
    shop.settle()
    shop.release_all()
    login(client, merchant.email)
    html = page(client, shop)
    steps = steps_section(html)
    assert step_titles(steps) == [
        "Ordered on TikTok",
        "Reserved in Shopify",
        "Paid",
        "Holdback over",
        "Released in Shopify",
    ]
    assert "Ignored a repeated or older TikTok update" not in steps
    assert 'class="kind"' not in steps
    details = technical(html)
    assert html.count('data-testid="technical"') == 1
    assert "<details" in html[html.index('id="order-log"') : html.index('data-testid="technical"')]
    toggle = re.search(r"<details[^>]*>", html)
    assert toggle and "open" not in toggle.group(0), "folded away until asked for"
    assert "Ignored a repeated or older TikTok update" in details
    assert re.search(r'class="kind-decision set-aside"[^>]*>\s*<time', details)
    entries = shop.world.store.timeline(shop.mirror(ORDER_ID).id)
    assert details.count('data-testid="timeline-entry"') == len(entries)


def test_tiktok_statuses_are_words_everywhere_on_the_page(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """No raw AWAITING_SHIPMENT or UNPAID anywhere, technical details included."""
    shop.paid(ORDER_ID)
    login(client, merchant.email)
    html = page(client, shop)
    assert re.search(r'data-testid="tiktok-status">awaiting shipment<', html)
    for raw in ("AWAITING_SHIPMENT", "UNPAID", "ON_HOLD"):
        assert raw not in html
    assert "TikTok status is now awaiting shipment" in steps_section(html)


def test_items_are_named_as_tiktok_names_them_on_the_order(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """Each line shows TikTok's product_name for it; a line TikTok sent without one, its SKU."""
    shop.paid(ORDER_ID, skus=SKUS)
    shop.clock.advance(timedelta(minutes=1))
    order = snapshot(
        "AWAITING_SHIPMENT",
        at=shop.clock.now(),
        paid=shop.paid_times[ORDER_ID],
        on_hold=False,
        order_id=ORDER_ID,
        skus=SKUS,
    )
    tee, mug = order.lines
    named = replace(
        order,
        lines=(replace(tee, product_name="Classic Tee — Red, L"), replace(mug, product_name="")),
    )
    shop.world.observe(named)
    shop.settle()
    login(client, merchant.email)
    html = page(client, shop)
    lines = re.findall(
        r'data-testid="line"><th scope="rowgroup">([^<]*)</th><td>([^<]*)</td>', html
    )
    assert lines == [("TEE-RED-L", "Classic Tee — Red, L"), ("MUG", "MUG")]


def test_unsupported_carrier_is_one_reason_with_what_to_do(
    client: httpx.Client, merchant: User, shop: Shop
) -> None:
    """Row 6: a box from a carrier TikTok does not take is one reason to act (the carrier),
    not that and a failed action besides; the summary says the tracking did not reach TikTok."""
    shop.paid(ORDER_ID)
    shop.release_all()
    shop.fulfil(ORDER_ID, "Bonshaw", "BSH123456")
    login(client, merchant.email)
    html = page(client, shop)
    assert badges(html) == [
        "Fulfilled · Bonshaw BSH123456",
        "Needs attention: carrier not accepted by TikTok",
    ]
    assert story(html) == (
        "Paid 04:01, held until 05:01, then released; "
        "fulfilled in Shopify (Bonshaw BSH123456); TikTok has not taken the tracking yet."
    )
    assert "Bonshaw" in todo(html)
