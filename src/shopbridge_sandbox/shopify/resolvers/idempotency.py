"""The `@idempotent(key:)` directive as 2026-07 enforces it.

On the mutations whose schema description says so (the inventory mutations, refundCreate…)
the key is required from 2026-04 and may not be blank; elsewhere the directive is not
supported ("Only supported on mutations that explicitly document idempotency support").
Same key and same arguments → the stored result, nothing done a second time; same key with
other arguments → IDEMPOTENCY_KEY_PARAMETER_MISMATCH [shopify_api.md §6; changelog
"making-idempotency-mandatory-for-inventory-adjustments-and-refund-mutations"].
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError, GraphQLResolveInfo, get_directive_values

from shopbridge_sandbox.shopify.orders import UserError
from shopbridge_sandbox.shopify.schema import API_VERSION, idempotency_required

if TYPE_CHECKING:
    from shopbridge_sandbox.shopify.resolvers.registry import RequestContext


def _key(info: GraphQLResolveInfo[Any]) -> str | None:
    directive = info.schema.get_directive("idempotent")
    assert directive is not None
    values = get_directive_values(directive, info.field_nodes[0], info.variable_values)
    return None if values is None else str(values["key"])


def check(info: GraphQLResolveInfo[Any]) -> None:
    """Refuse a mutation field whose use of `@idempotent` breaks 2026-07's rules."""
    key = _key(info)
    if info.field_name not in idempotency_required():
        if key is not None:
            raise GraphQLError(
                f"The @idempotent directive is not supported on {info.field_name}",
                extensions={"code": "BAD_REQUEST"},
            )
        return
    if key is None or not key.strip():
        raise GraphQLError(
            f"{info.field_name} requires an idempotency key in API version {API_VERSION}: "
            'add @idempotent(key: "<unique key>") to the mutation field '
            "(the key cannot be empty or whitespace only)",
            extensions={"code": "BAD_REQUEST"},
        )


def once(
    info: GraphQLResolveInfo[RequestContext],
    arguments: dict[str, Any],
    payload_field: str,
    run: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """Run the mutation once per key (checked already by `check`), replaying its result."""
    key = _key(info)
    assert key is not None
    shop = info.context.shop
    fingerprint = json.dumps(arguments, sort_keys=True, default=str)
    stored = shop.idempotency.get(key)
    if stored is None:
        result = run()
        shop.idempotency[key] = (info.field_name, fingerprint, result)
        return result
    mutation, previous_fingerprint, result = stored
    if (mutation, previous_fingerprint) == (info.field_name, fingerprint):
        return dict(result)
    mismatch = UserError(
        ["idempotent", "key"],
        f"The idempotency key {key!r} was already used with different parameters",
        "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
    )
    return {payload_field: None, "userErrors": [mismatch.as_dict()]}
