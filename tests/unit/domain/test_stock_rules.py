"""The stock rules: what TikTok shows of a SKU, from what Shopify has (domain/stock.py)."""

from __future__ import annotations

import pytest

from shopbridge.domain.stock import (
    DEFAULT_RULE,
    MAX_TIKTOK_QUANTITY,
    RuleError,
    StockRule,
    plan,
    tiktok_quantity,
)

PLAIN = StockRule(None, 0, 0, 0, None, True)


@pytest.mark.parametrize(
    ("available", "rule", "unreserved", "expected"),
    [
        (10, PLAIN, 0, 10),
        (10, DEFAULT_RULE, 0, 8),  # two units kept back by default
        (1, DEFAULT_RULE, 0, 0),
        (-5, PLAIN, 0, 0),  # Shopify oversold: TikTok shows 0, never a negative
        (10, PLAIN, 3, 7),  # three units in TikTok orders not reserved yet
        (10, StockRule(None, 0, 25, 0, None, True), 0, 7),  # 25 % of 10 rounds up to 3
        (10, StockRule(None, 1, 25, 0, None, True), 0, 7),  # the larger buffer applies
        (4, StockRule(None, 0, 0, 5, None, True), 0, 0),  # below the threshold: 0
        (5, StockRule(None, 0, 0, 5, None, True), 0, 5),
        (500, StockRule(None, 0, 0, 0, 50, True), 0, 50),  # at most 50 on TikTok
        (10**9, PLAIN, 0, MAX_TIKTOK_QUANTITY),
    ],
)
def test_tiktok_quantity(available: int, rule: StockRule, unreserved: int, expected: int) -> None:
    assert tiktok_quantity(available, rule, unreserved) == expected


def test_sku_overrides_take_precedence_and_inherit_the_rest() -> None:
    base = StockRule(("loc-1",), 2, 0, 1, 100, True).over(DEFAULT_RULE)
    rule = StockRule(buffer_units=0, sync=False).over(base)
    assert rule == StockRule(("loc-1",), 0, 0, 1, 100, False)


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        (StockRule(buffer_units=-1), "buffer units cannot be negative"),
        (StockRule(buffer_percent=101), "buffer percent"),
        (StockRule(low_stock_threshold=1.5), "whole number"),  # type: ignore[arg-type]
        (StockRule(max_quantity=MAX_TIKTOK_QUANTITY + 1), "maximum"),
        (StockRule(locations=()), "at least one Shopify location"),
    ],
)
def test_bad_rules_are_refused_in_words(rule: StockRule, words: str) -> None:
    with pytest.raises(RuleError, match=words):
        rule.checked()


def test_only_counted_locations_count() -> None:
    rule = StockRule(("loc-a",), 0, 0, 0, None, True)
    result = plan(
        levels={"loc-a": 4, "loc-b": 100},
        rule=rule,
        tiktok_warehouses={"wh-1": 0},
        warehouse_map={},
    )
    assert result.quantities == {"wh-1": 4}


def test_without_a_mapping_everything_feeds_the_default_warehouse_and_others_keep_theirs() -> None:
    result = plan(
        levels={"loc-a": 6, "loc-b": 4},
        rule=PLAIN,
        tiktok_warehouses={"wh-1": 3, "wh-2": 9},
        warehouse_map={},
        default_warehouse="wh-2",
    )
    assert result.quantities == {"wh-1": 3, "wh-2": 10}
    assert result.kept == ("wh-1",)


def test_mapped_warehouses_share_by_their_locations_and_unmapped_ones_are_untouched() -> None:
    result = plan(
        levels={"loc-a": 30, "loc-b": 10, "loc-c": 50},
        rule=StockRule(None, 4, 0, 0, None, True),
        tiktok_warehouses={"wh-1": 0, "wh-2": 0, "wh-3": 7},
        warehouse_map={"loc-a": "wh-1", "loc-b": "wh-2"},  # loc-c feeds nothing
    )
    # 40 counted (loc-c is not mapped), 36 after the buffer, shared 3:1.
    assert result.total == 36
    assert result.quantities == {"wh-1": 27, "wh-2": 9, "wh-3": 7}


def test_shares_always_add_up_to_the_total() -> None:
    result = plan(
        levels={"a": 1, "b": 1, "c": 1},
        rule=PLAIN,
        tiktok_warehouses={"w1": 0, "w2": 0, "w3": 0},
        warehouse_map={"a": "w1", "b": "w2", "c": "w3"},
        unreserved=1,
    )
    assert sum(result.quantities.values()) == result.total == 2
    assert "1 in TikTok orders not yet reserved" in result.explanation
