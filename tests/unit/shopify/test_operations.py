"""Every .graphql operation the client sends is valid against Shopify's real 2026-07 schema."""

from __future__ import annotations

import pytest
from graphql import GraphQLSchema, validate

from shopbridge.shopify.operations import OPERATIONS, operation

NAMES = sorted(OPERATIONS)


@pytest.mark.parametrize("name", NAMES)
def test_operation_validates_against_vendored_schema(
    name: str, vendored_schema: GraphQLSchema
) -> None:
    """The operation has no validation errors against the vendored schema."""
    errors = validate(vendored_schema, OPERATIONS[name].document)
    assert [e.message for e in errors] == []


@pytest.mark.parametrize("name", NAMES)
def test_operation_validates_against_shared_schema(name: str, shared_schema: GraphQLSchema) -> None:
    """The operation has no validation errors against the shared copy of the schema."""
    errors = validate(shared_schema, OPERATIONS[name].document)
    assert [e.message for e in errors] == []


def test_operations_are_named_by_file() -> None:
    """Each file's operation name is its stem in CamelCase, so logs and files line up."""
    for name, op in OPERATIONS.items():
        assert op.operation_name == "".join(part.title() for part in name.split("_"))


def test_unknown_operation_names_the_known_ones() -> None:
    """Asking for a missing operation fails with the list of known ones."""
    with pytest.raises(KeyError, match="create_order"):
        operation("create_ordr")


def test_inventory_mutations_carry_an_idempotency_key() -> None:
    """Both inventory mutations use @idempotent(key:), required since 2026-04."""
    for name in ("adjust_inventory", "set_inventory"):
        assert "@idempotent(key: $idempotencyKey)" in OPERATIONS[name].text


def test_refund_create_carries_an_idempotency_key() -> None:
    """refundCreate requires @idempotent(key:) in 2026-07 (wave2 §5)."""
    assert "@idempotent(key: $idempotencyKey)" in OPERATIONS["create_refund"].text


def test_edit_operations_carry_no_idempotency_key() -> None:
    """orderEdit* mutations do not support @idempotent (wave2 §5): the directive would be
    refused."""
    for name in ("begin_order_edit", "set_order_edit_quantity", "commit_order_edit"):
        assert "@idempotent" not in OPERATIONS[name].text


def test_a_shared_fragment_is_sent_with_each_operation_that_spreads_it() -> None:
    """CreateOrder and ReadCreatedOrder share one selection, written once as a fragment."""
    for name in ("create_order", "read_created_order"):
        text = OPERATIONS[name].text
        assert "...CreatedOrderFields" in text
        assert text.count("fragment CreatedOrderFields on Order") == 1
    assert "created_order.fragment" not in OPERATIONS


def test_a_spread_of_an_unknown_fragment_fails_at_load() -> None:
    """A typo in a fragment name fails when the operations load, not on the first call."""
    from shopbridge.shopify.operations import _with_fragments

    with pytest.raises(ValueError, match="fragment Nope is not defined"):
        _with_fragments("query Q { shop { ...Nope } }", {})
