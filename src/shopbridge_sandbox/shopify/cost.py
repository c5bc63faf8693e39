"""Calculated query cost and the per-shop leaky bucket [shopify_api.md §8].

Rules: scalar and enum fields 0, an object 1, a connection 2 + `first` (or `last`) times
the cost of one node, a list of objects its length times one element, and each mutation
root field 10 whatever its payload. The requested cost is charged up front; after
execution the actual cost is computed the same way over what came back (a connection
costs 2 + the nodes really returned, a null object 1, fields of a fragment that did not
apply nothing) and the difference is refunded.

A list's requested length is its `first`/`last`, else the length of its `ids` or `names`
argument (`nodes(ids:)`, `quantities(names:)` answer one element per entry), else 1. That
`nodes(ids:)` is charged per id is the sandbox's reading of "cost of the objects", UNCONFIRMED
against Shopify's exact figure.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLOutputType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    is_leaf_type,
    value_from_ast_untyped,
)

MAX_SINGLE_QUERY_COST = 1000
MUTATION_COST = 10
PLANS = {
    # plan: (bucket size = maximumAvailable, restore rate points/s) [§8; Plus size UNCONFIRMED]
    "standard": (2000, 100),
    "plus": (20000, 1000),
}


@dataclass
class _Walk:
    schema: GraphQLSchema
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: Mapping[str, Any]


def operation_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any] | None,
    data: Mapping[str, Any] | None = None,
    actual: bool = False,
) -> int:
    """Requested cost (`actual=False`) or actual cost over the response `data`."""
    walk = _Walk(schema, fragments, variables or {})
    if operation.operation == OperationType.MUTATION:
        return MUTATION_COST * sum(
            1
            for _scope, node in _fields(walk, schema.mutation_type, operation.selection_set)
            if not node.name.value.startswith("__")
        )
    root = schema.query_type
    assert root is not None
    if actual and data is None:
        return 0
    return _selection_cost(walk, root, operation.selection_set, data if actual else None, actual)


def _fields(walk: _Walk, parent: Any, selection_set: SelectionSetNode | None) -> list[Any]:
    """(parent type, field node) pairs, fragments flattened onto their type conditions."""
    found: list[tuple[Any, FieldNode]] = []
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            found.append((parent, selection))
            continue
        fragment: Any = selection
        if isinstance(selection, FragmentSpreadNode):
            fragment = walk.fragments.get(selection.name.value)
            if fragment is None:
                continue
        condition = fragment.type_condition
        scope = walk.schema.get_type(condition.name.value) if condition else parent
        found += _fields(walk, scope, fragment.selection_set)
    return found


def _selection_cost(
    walk: _Walk,
    parent: Any,
    selection_set: SelectionSetNode | None,
    data: Mapping[str, Any] | None,
    actual: bool,
) -> int:
    total = 0
    for scope, node in _fields(walk, parent, selection_set):
        name = node.name.value
        field = getattr(scope, "fields", {}).get(name)
        if name.startswith("__") or field is None:
            continue
        key = node.alias.value if node.alias else name
        if actual and (data is None or key not in data):
            continue  # not resolved: a fragment on another type, or under a null
        value = data.get(key) if data is not None else None
        total += _field_cost(walk, node, field.type, value, actual)
    return total


def _field_cost(
    walk: _Walk, node: FieldNode, type_: GraphQLOutputType, value: Any, actual: bool
) -> int:
    named = get_named_type(type_)
    if is_leaf_type(named):
        return 0
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if _is_connection(named):
        return 2 + _connection_items_cost(walk, node, named, value, actual)
    if isinstance(inner, GraphQLList):
        if actual:
            items = value if isinstance(value, list) else []
            return sum(1 + _selection_cost(walk, named, node.selection_set, i, True) for i in items)
        return max(1, _list_length(walk, node)) * (
            1 + _selection_cost(walk, named, node.selection_set, None, False)
        )
    if actual and not isinstance(value, Mapping):
        return 1
    return 1 + _selection_cost(walk, named, node.selection_set, value, actual)


def _is_connection(named: Any) -> bool:
    fields = getattr(named, "fields", None)
    return (
        named.name.endswith("Connection")
        and fields is not None
        and "pageInfo" in fields
        and ("nodes" in fields or "edges" in fields)
    )


def _connection_items_cost(
    walk: _Walk, node: FieldNode, connection: Any, value: Any, actual: bool
) -> int:
    node_type = get_named_type(connection.fields["nodes"].type)
    per_node: list[int] = []
    for _scope, sub in _fields(walk, connection, node.selection_set):
        if sub.name.value == "nodes":
            per_node.append(_node_cost(walk, node_type, sub.selection_set, sub, value, actual))
        elif sub.name.value == "edges":
            edge_type = get_named_type(connection.fields["edges"].type)
            for _edge_scope, edge_sub in _fields(walk, edge_type, sub.selection_set):
                if edge_sub.name.value == "node":
                    per_node.append(_edge_cost(walk, node_type, sub, edge_sub, value, actual))
    # `nodes` and `edges { node }` are two views of the same page: count it once.
    items_cost = max(per_node, default=0)
    return items_cost if actual else _page_size(walk, node) * items_cost


def _node_cost(
    walk: _Walk, node_type: Any, selection_set: Any, sub: FieldNode, value: Any, actual: bool
) -> int:
    if not actual:
        return 1 + _selection_cost(walk, node_type, selection_set, None, False)
    key = sub.alias.value if sub.alias else "nodes"
    items = value.get(key) if isinstance(value, Mapping) else None
    return sum(
        1 + _selection_cost(walk, node_type, selection_set, item, True) for item in items or []
    )


def _edge_cost(
    walk: _Walk, node_type: Any, edges: FieldNode, node: FieldNode, value: Any, actual: bool
) -> int:
    if not actual:
        return 1 + _selection_cost(walk, node_type, node.selection_set, None, False)
    edges_key = edges.alias.value if edges.alias else "edges"
    node_key = node.alias.value if node.alias else "node"
    items = value.get(edges_key) if isinstance(value, Mapping) else None
    return sum(
        1 + _selection_cost(walk, node_type, node.selection_set, edge.get(node_key), True)
        for edge in items or []
        if isinstance(edge, Mapping)
    )


def _list_length(walk: _Walk, node: FieldNode) -> int:
    """How many elements a list field asks for: its page size, else its ids or names."""
    size = _page_size(walk, node)
    if size:
        return size
    for argument in node.arguments or ():
        if argument.name.value in ("ids", "names"):
            entries = value_from_ast_untyped(argument.value, dict(walk.variables))
            return len(entries) if isinstance(entries, list) else 1
    return 0


def _page_size(walk: _Walk, node: FieldNode) -> int:
    for argument in node.arguments or ():
        if argument.name.value in ("first", "last"):
            size = value_from_ast_untyped(argument.value, dict(walk.variables))
            return size if isinstance(size, int) and size > 0 else 0
    return 0


class LeakyBucket:
    """Points restore continuously at `restore_rate` up to `maximum`, in monotonic time."""

    def __init__(
        self, maximum: int, restore_rate: int, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.maximum = maximum
        self.restore_rate = restore_rate
        self._monotonic = monotonic
        self._available = float(maximum)
        self._at = monotonic()
        self._lock = threading.Lock()
        # What the shop's clients cost it: points kept after refunds, and requests refused as
        # THROTTLED (benchmarks read these; nothing else does).
        self.spent = 0.0
        self.throttled = 0
        # Each answered request as (operation name, requested, actual points kept), newest last:
        # what tests and benchmarks read to count the points each path spends.
        self.charges: deque[tuple[str, int, int]] = deque(maxlen=100_000)

    def _refill(self) -> None:
        now = self._monotonic()
        self._available = min(
            float(self.maximum), self._available + (now - self._at) * self.restore_rate
        )
        self._at = now

    def take(self, points: int) -> bool:
        """Charge `points` if that many are available; False (nothing charged) otherwise."""
        with self._lock:
            self._refill()
            if points > self._available:
                self.throttled += 1
                return False
            self._available -= points
            self.spent += points
            return True

    def refund(self, points: int) -> None:
        with self._lock:
            self._refill()
            self._available = min(float(self.maximum), self._available + max(0, points))
            self.spent -= max(0, points)

    def record(self, operation: str, requested: int, actual: int) -> None:
        with self._lock:
            self.charges.append((operation, requested, actual))

    def set_available(self, points: float) -> None:
        with self._lock:
            self._refill()
            self._available = max(0.0, min(float(self.maximum), points))

    def status(self) -> dict[str, float]:
        with self._lock:
            self._refill()
            return {
                "maximumAvailable": float(self.maximum),
                "currentlyAvailable": int(self._available),
                "restoreRate": float(self.restore_rate),
            }
