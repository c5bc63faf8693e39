"""How sandbox objects answer GraphQL fields: one registry keyed by (type, field).

A field with no registered resolver answers with a GraphQL error naming it (never with
made-up data): "<Type>.<field> is not implemented by the shopbridge sandbox". Plain dicts
(payloads, money bags, connections) answer with their keys.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo

from shopbridge_sandbox.shopify.model import Shop, money
from shopbridge_sandbox.shopify.resolvers import idempotency
from shopbridge_sandbox.shopify.world import World

Resolver = Callable[..., Any]
_REGISTRY: dict[tuple[str, str], Resolver] = {}
MAX_PAGE_SIZE = 250  # "input arrays ≤ 250 items" and page sizes alike [§8]


@dataclass
class RequestContext:
    world: World
    shop: Shop


Info = GraphQLResolveInfo[RequestContext]


def ctx(info: Info) -> RequestContext:
    return info.context


def resolves(type_name: str, *field_names: str) -> Callable[[Resolver], Resolver]:
    """Register `fn(source, info, **arguments)` for the named fields of `type_name`."""

    def register(fn: Resolver) -> Resolver:
        for name in field_names:
            _REGISTRY[(type_name, name)] = fn
        return fn

    return register


def attributes(type_name: str, **getters: Callable[[Any], Any]) -> None:
    """Register argument-less fields computed from the source object alone."""
    for name, getter in getters.items():
        _REGISTRY[(type_name, name)] = lambda source, info, _get=getter, **_: _get(source)


def not_implemented(type_name: str, field_name: str) -> GraphQLError:
    return GraphQLError(
        f"{type_name}.{field_name} is not implemented by the shopbridge sandbox",
        extensions={"code": "NOT_IMPLEMENTED_IN_SANDBOX"},
    )


def field_resolver(source: Any, info: Info, **arguments: Any) -> Any:
    if info.parent_type is info.schema.mutation_type:
        idempotency.check(info)
    resolver = _REGISTRY.get((info.parent_type.name, info.field_name))
    if resolver is not None:
        return resolver(source, info, **arguments)
    if isinstance(source, dict) and info.field_name in source:
        return source[info.field_name]
    raise not_implemented(info.parent_type.name, info.field_name)


def type_resolver(value: Any, info: Info, abstract_type: Any) -> str | None:
    name = getattr(value, "graphql_type", None)
    if name is None and isinstance(value, dict):
        name = value.get("__typename")
    return name


def money_bag(amount: Decimal, currency: str) -> dict[str, Any]:
    value = {"amount": money(amount), "currencyCode": currency}
    return {"shopMoney": value, "presentmentMoney": dict(value)}


def _cursor(item: Any) -> str:
    return base64.b64encode(f"{getattr(item, 'graphql_type', 'x')}:{item.id}".encode()).decode()


def connection(
    items: Sequence[Any],
    first: int | None = None,
    last: int | None = None,
    after: str | None = None,
    before: str | None = None,
    reverse: bool = False,
    sortKey: str | None = None,
    **unsupported: Any,
) -> dict[str, Any]:
    """A Relay connection over `items` (in id order) with Shopify's pagination rules.

    Arguments the sandbox does not implement (other sort keys, saved searches, …) are
    refused rather than ignored, so no answer is ordered or filtered differently from
    what was asked."""
    given = {k: v for k, v in unsupported.items() if v is not None}
    if sortKey not in (None, "ID"):
        given["sortKey"] = sortKey
    if given:
        raise GraphQLError(
            f"Connection arguments {', '.join(f'{k}: {v!r}' for k, v in given.items())} "
            "are not implemented by the shopbridge sandbox"
        )
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last")
    for name, size in (("first", first), ("last", last)):
        if size is not None and not 0 <= size <= MAX_PAGE_SIZE:
            raise GraphQLError(f"{name} must be between 0 and {MAX_PAGE_SIZE}")
    ordered = list(reversed(items)) if reverse else list(items)
    cursors = [_cursor(i) for i in ordered]
    start, end = 0, len(ordered)
    for name, cursor in (("after", after), ("before", before)):
        if cursor is None:
            continue
        if cursor not in cursors:
            raise GraphQLError(f"Invalid cursor for {name}: {cursor}")
        if name == "after":
            start = cursors.index(cursor) + 1
        else:
            end = cursors.index(cursor)
    window = list(range(start, end))
    if first is not None:
        window = window[:first]
    if last is not None:
        window = window[-last:] if last else []
    return {
        "nodes": [ordered[i] for i in window],
        "edges": [{"node": ordered[i], "cursor": cursors[i]} for i in window],
        "pageInfo": {
            "hasNextPage": bool(window) and window[-1] < len(ordered) - 1,
            "hasPreviousPage": bool(window) and window[0] > 0,
            "startCursor": cursors[window[0]] if window else None,
            "endCursor": cursors[window[-1]] if window else None,
        },
    }


def user_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    return [e.as_dict() for e in errors]
