"""Reading mirrors for the merchant: lists, filters, search, timeline and UTC times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from shopbridge.clock import ManualClock
from shopbridge.store import Store


def save_order(store: Store, connection_id: int, order_id: str, **projection: object) -> None:
    with store.order_unit(connection_id, order_id) as unit:
        unit.save({"order": order_id}, **projection)


def test_aware_datetimes_round_trip_as_utc(store: Store, connection_id: int) -> None:
    """A time written in any offset comes back as the same instant in aware UTC."""
    paid = datetime(2026, 11, 2, 14, 30, 15, 123456, tzinfo=timezone(timedelta(hours=5)))
    save_order(store, connection_id, "1", paid_at=paid, holdback_ends_at=paid + timedelta(hours=1))
    mirror = store.get_mirror(connection_id, "1")
    assert mirror is not None
    assert mirror.paid_at == paid
    assert mirror.paid_at is not None and mirror.paid_at.tzinfo == UTC
    assert mirror.paid_at.hour == 9
    assert mirror.created_at.tzinfo == UTC


def test_naive_datetime_is_refused(store: Store, connection_id: int) -> None:
    """A naive datetime never reaches the database."""
    with pytest.raises(sa.exc.StatementError, match="aware UTC"):
        save_order(store, connection_id, "1", paid_at=datetime(2026, 11, 2, 9, 0))  # noqa: DTZ001 - the naive value under test


def test_list_is_newest_first_with_paging(
    store: Store, manual_clock: ManualClock, connection_id: int
) -> None:
    """Mirrors are listed newest first, a page at a time."""
    for order_id in ["1", "2", "3"]:
        save_order(store, connection_id, order_id)
        manual_clock.advance(60)
    first_page = store.list_mirrors(connection_id, limit=2)
    second_page = store.list_mirrors(connection_id, limit=2, offset=2)
    assert [m.tiktok_order_id for m in first_page + second_page] == ["3", "2", "1"]


def test_list_filters_by_phase(store: Store, connection_id: int) -> None:
    """Only mirrors in the requested phase are listed."""
    save_order(store, connection_id, "1", phase="held")
    save_order(store, connection_id, "2", phase="released")
    assert [m.tiktok_order_id for m in store.list_mirrors(connection_id, phase="held")] == ["1"]


def test_list_without_unpaid_hides_orders_tiktok_reports_unpaid(
    store: Store, connection_id: int
) -> None:
    """Unpaid orders are not listed yet; unpaid orders TikTok cancelled are (workflow row 3a)."""
    save_order(store, connection_id, "unpaid", tiktok_status="UNPAID")
    save_order(store, connection_id, "cancelled", tiktok_status="CANCELLED")
    save_order(store, connection_id, "paid", tiktok_status="AWAITING_SHIPMENT")
    listed = store.list_mirrors(connection_id, include_unpaid=False)
    assert sorted(m.tiktok_order_id for m in listed) == ["cancelled", "paid"]


def test_list_filters_orders_needing_attention(store: Store, connection_id: int) -> None:
    """The merchant can list only the orders flagged for attention."""
    save_order(store, connection_id, "1", needs_attention=True, attention_reason="fulfilled")
    save_order(store, connection_id, "2")
    flagged = store.list_mirrors(connection_id, needs_attention=True)
    assert [(m.tiktok_order_id, m.attention_reason) for m in flagged] == [("1", "fulfilled")]


def test_search_matches_tiktok_id_or_shopify_name(store: Store, connection_id: int) -> None:
    """Search finds orders by the start of the TikTok order id or the Shopify order name."""
    save_order(store, connection_id, "577000111222333", shopify_order_name="#1001")
    save_order(store, connection_id, "577000999888777", shopify_order_name="#1002")
    assert [m.tiktok_order_id for m in store.list_mirrors(connection_id, search="5770001")] == [
        "577000111222333"
    ]
    assert [m.tiktok_order_id for m in store.list_mirrors(connection_id, search="#1002")] == [
        "577000999888777"
    ]


def test_list_is_per_connection(store: Store, connection_id: int) -> None:
    """One connection's orders never appear in another's list."""
    other = store.add_connection(name="Other shop")
    save_order(store, other, "1")
    assert store.list_mirrors(connection_id) == []


def test_timeline_is_in_time_order_including_standalone_entries(
    store: Store, manual_clock: ManualClock, connection_id: int
) -> None:
    """Entries added inside units and on their own read back in the order they happened."""
    with store.order_unit(connection_id, "1") as unit:
        unit.save({})
        unit.add_timeline("event", "TikTok says UNPAID")
    manual_clock.advance(5)
    store.add_timeline(unit.mirror_id, "result", "Shopify order #1001 created", {"ms": 420})
    entries = store.timeline(unit.mirror_id)
    assert [(e.kind, e.summary) for e in entries] == [
        ("event", "TikTok says UNPAID"),
        ("result", "Shopify order #1001 created"),
    ]
    assert entries[1].at == manual_clock.now()


def test_mirror_is_found_by_id(store: Store, connection_id: int) -> None:
    """A mirror read by id is the one read by TikTok order id."""
    save_order(store, connection_id, "1")
    mirror = store.get_mirror(connection_id, "1")
    assert mirror is not None
    assert store.get_mirror_by_id(mirror.id) == mirror
    assert store.get_mirror_by_id(mirror.id + 1000) is None


def test_mirror_is_found_by_its_shopify_order(store: Store, connection_id: int) -> None:
    """A Shopify webhook's order id leads to the mirror that created that Shopify order."""
    save_order(store, connection_id, "1", shopify_order_id="gid://shopify/Order/9001")
    save_order(store, connection_id, "2", shopify_order_id="gid://shopify/Order/9002")
    mirror = store.mirror_by_shopify_order(connection_id, "gid://shopify/Order/9002")
    assert mirror is not None
    assert mirror.tiktok_order_id == "2"
    assert store.mirror_by_shopify_order(connection_id, "gid://shopify/Order/1") is None
