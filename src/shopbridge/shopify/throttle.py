"""Shopify's query-cost bucket, modelled client-side so we wait instead of being throttled.

Shopify charges each GraphQL query its *requested* cost up front from a per app+shop leaky bucket
(Standard plan: 2000 points, restoring 100/s) and reports the bucket on every response in
`extensions.cost.throttleStatus` (shopify_api.md §8). We keep one `ShopBucket` per shop endpoint
in the process, fed by those reports, and reserve a call's estimated cost before sending it.
The bucket restores in real time, so waiting uses real monotonic time and `asyncio.sleep`.

Estimates: the first call of an operation uses `estimate_requested_cost` (Shopify's published
rules applied to the document, deliberately on the high side); later calls use the requested
cost Shopify reported for that operation last time.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    VariableNode,
)

MAX_QUERY_COST = 1000
"""A single query may not request more than 1000 points (shopify_api.md §8)."""

MUTATION_COST = 10
CONNECTION_BASE_COST = 2
POINTS_EPSILON = 1e-6
"""Float slack when comparing the restored level with a cost, so waits always converge."""
SPARE_FRACTION = 0.05
"""Share of the bucket the client leaves unspent. Sending at exactly the restore rate keeps
Shopify's bucket on the edge, where two requests bunched up by network jitter come back
THROTTLED; 5 % spare (100 points, ten mutations, on Standard) absorbs that for a one-time
cost of 0.05 × bucket / restore rate (1 s on Standard) per burst."""
RESERVATION_SHARE = 0.25
"""Share of the bucket kept for stock reservations (orderCreate and its holds, workflow.md
rule 2): every other call (releases, cancels, tracking, stock pushes, reads) waits until the
bucket holds this share and the spare above its own cost. In a flash sale, when reservations
keep the bucket low, the rest waits; when they stop, the bucket refills and the rest goes."""
MIN_YIELD_WAIT = 0.05
"""Shortest wait of a call yielding to reservations before it looks at the bucket again."""
UNKNOWN_BUCKET_POLL = 0.01
"""Seconds between checks while the first call to a shop is out and its bucket is unknown."""

Sleep = Callable[[float], Awaitable[None]]

_RESERVING: ContextVar[bool] = ContextVar("shopbridge_reserving_stock", default=False)


@contextmanager
def reserving_stock() -> Iterator[None]:
    """Mark the Shopify calls made inside as a stock reservation: they may use the whole
    bucket (RESERVATION_SHARE included), every other call yields to them."""
    token = _RESERVING.set(True)
    try:
        yield
    finally:
        _RESERVING.reset(token)


# --- cost estimate -------------------------------------------------------------------------


def estimate_requested_cost(document: DocumentNode, variables: Mapping[str, Any]) -> int:
    """Shopify's requested cost of `document`, by its published rules (§8), rounded up.

    Scalars and enums cost 0, objects 1, a connection or list with `first`/`last` costs
    2 + n × its item, a mutation field 10. Without the schema we cannot tell a list from an
    object, so an unpaged list of objects counts as one object (Shopify does the same).
    """
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    total = 0
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        for root in _fields(definition.selection_set.selections, fragments):
            if definition.operation == OperationType.MUTATION:
                total += MUTATION_COST + _children_cost(root, fragments, variables)
            else:
                total += _field_cost(root, fragments, variables)
    return total


def _fields(
    selections: Iterable[SelectionNode], fragments: Mapping[str, FragmentDefinitionNode]
) -> Iterable[FieldNode]:
    for selection in selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields(selection.selection_set.selections, fragments)
        elif isinstance(selection, FragmentSpreadNode):
            yield from _fields(fragments[selection.name.value].selection_set.selections, fragments)


def _page_size(field: FieldNode, variables: Mapping[str, Any]) -> int | None:
    for argument in field.arguments or ():
        if argument.name.value not in ("first", "last"):
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode):
            return int(variables.get(value.name.value) or 0)
    return None


def _children_cost(
    field: FieldNode, fragments: Mapping[str, FragmentDefinitionNode], variables: Mapping[str, Any]
) -> int:
    if field.selection_set is None:
        return 0
    return sum(
        _field_cost(child, fragments, variables)
        for child in _fields(field.selection_set.selections, fragments)
    )


def _field_cost(
    field: FieldNode, fragments: Mapping[str, FragmentDefinitionNode], variables: Mapping[str, Any]
) -> int:
    if field.selection_set is None:
        return 0
    page_size = _page_size(field, variables)
    if page_size is None:
        return 1 + _children_cost(field, fragments, variables)
    children = list(_fields(field.selection_set.selections, fragments))
    if any(child.name.value in ("nodes", "edges") for child in children):
        item = max(_connection_item_cost(child, fragments, variables) for child in children)
    else:
        item = 1 + _children_cost(field, fragments, variables)
    return CONNECTION_BASE_COST + page_size * item


def _connection_item_cost(
    field: FieldNode, fragments: Mapping[str, FragmentDefinitionNode], variables: Mapping[str, Any]
) -> int:
    if field.name.value == "nodes":
        return 1 + _children_cost(field, fragments, variables)
    if field.name.value == "edges" and field.selection_set is not None:
        return max(
            (
                1 + _children_cost(child, fragments, variables)
                for child in _fields(field.selection_set.selections, fragments)
                if child.name.value == "node"
            ),
            default=0,
        )
    return 0  # pageInfo, totalCount...: not charged per item


# --- the bucket ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ThrottleStatus:
    """`extensions.cost.throttleStatus` of one response."""

    maximum_available: float
    currently_available: float
    restore_rate: float

    @classmethod
    def from_cost(cls, cost: Mapping[str, Any] | None) -> ThrottleStatus | None:
        status = (cost or {}).get("throttleStatus")
        if not isinstance(status, Mapping):
            return None
        try:
            return cls(
                float(status["maximumAvailable"]),
                float(status["currentlyAvailable"]),
                float(status["restoreRate"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


class ShopBucket:
    """The modelled cost bucket of one shop, shared by every client of that shop in the process.

    Thread-safe: the lock guards only arithmetic and is never held across an `await`, so
    clients on different event loops may share it.
    """

    def __init__(
        self,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        self._maximum: float | None = None  # unknown until Shopify first reports it
        self._restore_rate = 0.0
        self._available = 0.0
        self._observed_at = 0.0
        self._in_flight = 0.0
        self._last_requested: dict[str, int] = {}
        self.waited_seconds = 0.0
        """Total time callers spent waiting for the bucket (for benchmarks and logs)."""
        self.throttled_responses = 0
        """THROTTLED answers absorbed by retrying (for benchmarks and logs)."""

    # Estimates -------------------------------------------------------------------------

    def last_requested(self, operation_name: str) -> int | None:
        """The requested cost Shopify last reported for this operation, if any."""
        with self._lock:
            return self._last_requested.get(operation_name)

    def remember_requested(self, operation_name: str, requested: int) -> None:
        with self._lock:
            self._last_requested[operation_name] = requested

    # Bucket arithmetic -----------------------------------------------------------------

    def _level(self, now: float) -> float | None:
        if self._maximum is None:
            return None
        restored = self._available + (now - self._observed_at) * self._restore_rate
        return min(self._maximum, restored)

    async def acquire(self, static_estimate: float, operation_name: str | None = None) -> float:
        """Reserve a call's points, waiting until the modelled bucket has restored them.

        The cost reserved is the requested cost Shopify last reported for `operation_name`,
        else `static_estimate`; it is read at reservation time, so callers queued behind a
        shop's first call already use what that call taught us. Returns the points reserved
        (hand them back to `settle`).

        Reservations may take the model below zero: each caller then waits exactly until its
        own points have restored (plus the spare share, see SPARE_FRACTION), so a burst is
        served first come, first served, without a herd of waiters re-checking the bucket.
        Until Shopify has reported the bucket once, only one call is let through at a time:
        a cold burst would be sent blind. A call that is not a stock reservation (see
        `reserving_stock`) never takes the bucket below RESERVATION_SHARE: it waits instead,
        without reserving anything, and looks again.
        """
        reserving = _RESERVING.get()
        while True:
            yield_for = 0.0
            with self._lock:
                now = self._monotonic()
                level = self._level(now)
                if level is not None or self._in_flight == 0:
                    cost = self._last_requested.get(operation_name or "", static_estimate)
                    if not reserving and level is not None and self._restore_rate > 0:
                        maximum = self._maximum or 0.0
                        floor = maximum * (SPARE_FRACTION + RESERVATION_SHARE)
                        floor = min(floor, max(0.0, maximum - cost))  # a dear call: a full bucket
                        if level - cost < floor - POINTS_EPSILON:
                            yield_for = max((floor + cost - level) / self._restore_rate, 0.0)
                            yield_for = max(yield_for, MIN_YIELD_WAIT)
                            self.waited_seconds += yield_for
                    if not yield_for:
                        self._in_flight += cost
                        if level is None or self._restore_rate <= 0:
                            return cost
                        self._available = level - cost
                        self._observed_at = now
                        shortfall = (self._maximum or 0.0) * SPARE_FRACTION - self._available
                        wait = shortfall / self._restore_rate if shortfall > POINTS_EPSILON else 0
                        self.waited_seconds += wait
                        break
                else:
                    yield_for = UNKNOWN_BUCKET_POLL
                    self.waited_seconds += yield_for
            await self._sleep(yield_for)
        if wait > 0:
            try:
                await self._sleep(wait)
            except BaseException:
                # Cancelled while queued: give the slot back, or the model stays in debt.
                with self._lock:
                    self._in_flight -= cost
                    self._available += cost
                raise
        return cost

    def settle(self, reserved: float, status: ThrottleStatus | None) -> None:
        """A reserved call came back; adopt Shopify's view of the bucket if it sent one.

        Calls still in flight were reserved against our model but Shopify may not have
        charged them yet, so they are subtracted from what it reports: a little pessimism
        that keeps a burst of concurrent calls from overshooting the bucket.
        """
        with self._lock:
            self._in_flight = max(0.0, self._in_flight - reserved)
            if status is None:
                return
            self._maximum = status.maximum_available
            self._restore_rate = status.restore_rate
            self._available = status.currently_available - self._in_flight
            self._observed_at = self._monotonic()

    async def wait_after_throttled(
        self, needed: float, status: ThrottleStatus | None, fallback: float | None = None
    ) -> float:
        """Back off after a THROTTLED answer: (needed − currentlyAvailable) / restoreRate (§8).

        Without a throttle status (a bare 429), wait `fallback` (Retry-After) or one second.
        """
        if status is None or status.restore_rate <= 0:
            wait = fallback if fallback is not None else 1.0
        else:
            wait = max(0.0, (needed - status.currently_available) / status.restore_rate)
        with self._lock:
            self.throttled_responses += 1
            self.waited_seconds += wait
        await self._sleep(wait)
        return wait


_BUCKETS: dict[str, ShopBucket] = {}
_BUCKETS_LOCK = threading.Lock()


def bucket_for(endpoint: str) -> ShopBucket:
    """The process-wide bucket of one shop, keyed by its GraphQL endpoint URL."""
    with _BUCKETS_LOCK:
        bucket = _BUCKETS.get(endpoint)
        if bucket is None:
            bucket = _BUCKETS[endpoint] = ShopBucket()
        return bucket
