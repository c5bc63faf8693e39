"""What TikTok should show of a SKU, from what Shopify has: the stock rules, pure.

Shopify is the source of truth for stock and TikTok follows it. A connection has one set of
rules and any SKU may override any of them:

- `locations`: the Shopify locations whose `available` counts (None: every active location);
- a buffer kept back from TikTok, in units and/or percent (the larger of the two applies);
- a low-stock threshold: below it TikTok shows 0 (so the last few units sell where the merchant
  can see them go);
- a maximum shown on TikTok;
- `sync`: False leaves the SKU's TikTok stock alone.

The quantity for TikTok is `clamp(rule(available at the counted locations - units of TikTok
orders known but not yet reserved in Shopify))`. Reserved orders are already out of Shopify's
`available`, so they are never counted twice; unreserved ones are taken off here, so a push made
while an order is on its way to Shopify cannot hand that unit back to TikTok.

Warehouses: each TikTok warehouse the merchant mapped gets its share of that quantity (in
proportion to the available stock of the locations mapped to it); a warehouse nobody mapped keeps
the quantity TikTok has now. Without any mapping every counted location feeds one warehouse.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

MAX_TIKTOK_QUANTITY = 99_999  # Update Inventory's documented upper bound (tiktok wave2 §3.1)


class RuleError(ValueError):
    """A rule a merchant typed that cannot be applied, in words that say which and why."""


@dataclass(frozen=True)
class StockRule:
    """The connection's rules, or one SKU's overrides of them (None: inherit)."""

    locations: tuple[str, ...] | None = None
    buffer_units: int | None = None
    buffer_percent: int | None = None
    low_stock_threshold: int | None = None
    max_quantity: int | None = None
    sync: bool | None = None

    def over(self, base: StockRule) -> StockRule:
        """These overrides applied on top of `base`."""
        return StockRule(
            locations=self.locations if self.locations is not None else base.locations,
            buffer_units=_first(self.buffer_units, base.buffer_units),
            buffer_percent=_first(self.buffer_percent, base.buffer_percent),
            low_stock_threshold=_first(self.low_stock_threshold, base.low_stock_threshold),
            max_quantity=_first(self.max_quantity, base.max_quantity),
            sync=self.sync if self.sync is not None else base.sync,
        )

    def checked(self) -> StockRule:
        """The rule, or a RuleError naming the first value that makes no sense."""
        for name in ("buffer_units", "low_stock_threshold", "max_quantity"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise RuleError(f"{_words(name)} must be a whole number, not {value!r}")
            if value is not None and value < 0:
                raise RuleError(f"{_words(name)} cannot be negative ({value})")
        percent = self.buffer_percent
        if percent is not None and (
            isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100
        ):
            raise RuleError(f"buffer percent must be a whole number from 0 to 100, not {percent!r}")
        if self.max_quantity is not None and self.max_quantity > MAX_TIKTOK_QUANTITY:
            raise RuleError(f"maximum on TikTok cannot be above {MAX_TIKTOK_QUANTITY:,}")
        if self.locations is not None and not self.locations:
            raise RuleError("choose at least one Shopify location, or count them all")
        return self


# A new connection's rules: every location, 2 units kept back (so that a storefront sale racing a
# TikTok sale for the last unit cannot oversell), nothing hidden below a threshold, no maximum.
DEFAULT_RULE = StockRule(
    locations=None,
    buffer_units=2,
    buffer_percent=0,
    low_stock_threshold=0,
    max_quantity=None,
    sync=True,
)


def tiktok_quantity(available: int, rule: StockRule, unreserved: int = 0) -> int:
    """The total a SKU should show on TikTok, for Shopify's `available` at the counted
    locations, under `rule` (complete: no None but `max_quantity` and `locations`)."""
    sellable = available - max(0, unreserved)
    buffer = max(
        rule.buffer_units or 0, math.ceil(max(0, sellable) * (rule.buffer_percent or 0) / 100)
    )
    quantity = sellable - buffer
    if quantity < (rule.low_stock_threshold or 0):
        quantity = 0
    if rule.max_quantity is not None:
        quantity = min(quantity, rule.max_quantity)
    return max(0, min(quantity, MAX_TIKTOK_QUANTITY))


@dataclass(frozen=True)
class Plan:
    """What to send TikTok for one SKU: every warehouse of it, and why."""

    quantities: dict[str, int]  # warehouse id -> quantity, every warehouse of the SKU
    total: int  # what the rule gave for the mapped warehouses together
    counted: int  # Shopify available at the counted locations
    unreserved: int
    kept: tuple[str, ...] = ()  # warehouses left as TikTok has them (not mapped)

    @property
    def explanation(self) -> str:
        text = f"Shopify available {self.counted}"
        if self.unreserved:
            text += f", {self.unreserved} in TikTok orders not yet reserved"
        text += f" → TikTok {self.total}"
        if self.kept:
            text += f" (warehouses not mapped, left as they are: {', '.join(self.kept)})"
        return text


def plan(
    *,
    levels: Mapping[str, int],
    rule: StockRule,
    tiktok_warehouses: Mapping[str, int],
    warehouse_map: Mapping[str, str],
    default_warehouse: str | None = None,
    unreserved: int = 0,
) -> Plan:
    """Per-warehouse quantities for one SKU.

    `levels`: Shopify location id -> available; `tiktok_warehouses`: the SKU's TikTok warehouses
    -> quantity there now; `warehouse_map`: Shopify location id -> TikTok warehouse id (empty: all
    counted locations feed `default_warehouse`, or the SKU's first warehouse).
    """
    counted_locations = [loc for loc in levels if rule.locations is None or loc in rule.locations]
    warehouses = list(tiktok_warehouses)
    if warehouse_map:
        feeds: dict[str, list[str]] = {}
        for loc in counted_locations:
            mapped = warehouse_map.get(loc)
            if mapped is not None and mapped in tiktok_warehouses:
                feeds.setdefault(mapped, []).append(loc)
    else:
        target = default_warehouse if default_warehouse in tiktok_warehouses else None
        target = target or (warehouses[0] if warehouses else None)
        feeds = {target: counted_locations} if target else {}
    counted = sum(levels[loc] for loc in counted_locations if any(loc in f for f in feeds.values()))
    total = tiktok_quantity(counted, rule, unreserved)
    shares = _split(
        total, {w: sum(max(0, levels[loc]) for loc in locs) for w, locs in feeds.items()}
    )
    kept = tuple(w for w in warehouses if w not in shares)
    quantities = {w: shares[w] if w in shares else tiktok_warehouses[w] for w in warehouses}
    return Plan(quantities, total, counted, max(0, unreserved), kept)


def _split(total: int, weights: Mapping[str, int]) -> dict[str, int]:
    """`total` shared out by weight, largest remainders first; all to the first when no weight."""
    if not weights:
        return {}
    names = list(weights)
    whole = sum(weights.values())
    if whole <= 0:
        return {name: (total if i == 0 else 0) for i, name in enumerate(names)}
    exact = {name: total * weights[name] / whole for name in names}
    shares = {name: math.floor(exact[name]) for name in names}
    left = total - sum(shares.values())
    for name in sorted(names, key=lambda n: (shares[n] - exact[n], names.index(n)))[:left]:
        shares[name] += 1
    return shares


def resolve(base: StockRule, override: StockRule | None) -> StockRule:
    return base if override is None else override.over(base)


def with_defaults(rule: StockRule) -> StockRule:
    """A connection's stored rule with every unset value taken from DEFAULT_RULE."""
    return rule.over(DEFAULT_RULE) if rule != DEFAULT_RULE else rule


def _first(value: int | None, fallback: int | None) -> int | None:
    return value if value is not None else fallback


def _words(name: str) -> str:
    return name.replace("_", " ")


__all__ = [
    "DEFAULT_RULE",
    "MAX_TIKTOK_QUANTITY",
    "Plan",
    "RuleError",
    "StockRule",
    "plan",
    "resolve",
    "tiktok_quantity",
    "with_defaults",
]
