"""One Admin GraphQL request: parse, validate against the real schema, charge, execute, refund.

Every answer carries `extensions.cost` [shopify_api.md §8]; a throttled request has no
`data` and a THROTTLED error; a request costing over 1000 points is refused with
MAX_COST_EXCEEDED before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    execute,
    get_operation_ast,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values

from shopbridge_sandbox.shopify.cost import MAX_SINGLE_QUERY_COST, LeakyBucket, operation_cost
from shopbridge_sandbox.shopify.model import Shop
from shopbridge_sandbox.shopify.resolvers import RequestContext, field_resolver, type_resolver
from shopbridge_sandbox.shopify.schema import admin_schema
from shopbridge_sandbox.shopify.world import World

RATE_LIMITS_DOC = "https://shopify.dev/api/usage/rate-limits"


@dataclass(frozen=True)
class Answer:
    body: dict[str, Any]
    throttled: bool = False


def _cost(bucket: LeakyBucket, requested: int, actual: int | None) -> dict[str, Any]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": bucket.status(),
        }
    }


def throttled_body(bucket: LeakyBucket, requested: int) -> dict[str, Any]:
    return {
        "errors": [
            {
                "message": "Throttled",
                "extensions": {"code": "THROTTLED", "documentation": RATE_LIMITS_DOC},
            }
        ],
        "extensions": _cost(bucket, requested, None),
    }


def _bad_request(bucket: LeakyBucket, errors: list[GraphQLError]) -> Answer:
    return Answer({"errors": [e.formatted for e in errors], "extensions": _cost(bucket, 0, 0)})


@lru_cache(maxsize=512)
def _parsed_and_validated(query: str) -> tuple[DocumentNode | None, tuple[GraphQLError, ...]]:
    # A client sends the same few operations over and over; parse and validate each once.
    try:
        document = parse(query)
    except GraphQLError as error:
        return None, (error,)
    return document, tuple(validate(admin_schema(), document))


def run_request(world: World, shop: Shop, bucket: LeakyBucket, body: Any) -> Answer:
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return _bad_request(bucket, [GraphQLError("Parameter Missing or Invalid: query")])
    variables = body.get("variables") or {}
    operation_name = body.get("operationName")
    schema = admin_schema()
    document, errors = _parsed_and_validated(body["query"])
    if document is None or errors:
        return _bad_request(bucket, list(errors))
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return _bad_request(bucket, [GraphQLError("An operation name is required")])
    if not isinstance(variables, dict):
        return _bad_request(bucket, [GraphQLError("Variables must be a JSON object")])
    # Variables that do not fit their declared types are a request error: no `data` at all.
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables)
    if isinstance(coerced, list):
        return _bad_request(bucket, coerced)
    fragments = _fragments(document)
    requested = operation_cost(schema, operation, fragments, variables)
    if requested > MAX_SINGLE_QUERY_COST:
        return Answer(
            {
                "errors": [
                    {
                        "message": f"Query cost is {requested}, which exceeds the single query "
                        f"max cost limit ({MAX_SINGLE_QUERY_COST}).",
                        "extensions": {
                            "code": "MAX_COST_EXCEEDED",
                            "cost": requested,
                            "maxCost": MAX_SINGLE_QUERY_COST,
                            "documentation": RATE_LIMITS_DOC,
                        },
                    }
                ],
                "extensions": _cost(bucket, requested, None),
            }
        )
    if not bucket.take(requested):
        return Answer(throttled_body(bucket, requested), throttled=True)
    with world.lock:
        result = execute(
            schema,
            document,
            context_value=RequestContext(world, shop),
            variable_values=variables,
            operation_name=operation_name,
            field_resolver=field_resolver,
            type_resolver=type_resolver,
        )
    assert isinstance(result, ExecutionResult)  # all resolvers are synchronous
    actual = _actual_cost(operation, fragments, variables, result.data, requested)
    bucket.refund(requested - actual)
    bucket.record(operation.name.value if operation.name else "", requested, actual)
    answer: dict[str, Any] = {}
    if result.errors:
        answer["errors"] = [e.formatted for e in result.errors]
    answer["data"] = result.data  # present (maybe null) once execution started, per the spec
    answer["extensions"] = _cost(bucket, requested, actual)
    return Answer(answer)


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _actual_cost(
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
    data: dict[str, Any] | None,
    requested: int,
) -> int:
    actual = operation_cost(admin_schema(), operation, fragments, variables, data, actual=True)
    return min(actual, requested) if data is not None else 0
