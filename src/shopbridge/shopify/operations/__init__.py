"""The GraphQL documents the Shopify client sends: one operation per `.graphql` file.

Each file is named by intent (`hold_fulfillment_order.graphql`) and is parsed once, at import,
so a syntax error fails the import rather than the first call. The test suite validates every
document against the vendored 2026-07 schema; parsing here needs no schema and is cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from types import MappingProxyType

from graphql import DocumentNode, OperationDefinitionNode, parse


@dataclass(frozen=True)
class Operation:
    """One named GraphQL operation as sent on the wire."""

    name: str
    """The file stem, e.g. `create_order`."""
    operation_name: str
    """The GraphQL operation name inside the document, e.g. `CreateOrder`."""
    text: str
    document: DocumentNode

    @property
    def is_mutation(self) -> bool:
        return _definition(self.document).operation.value == "mutation"


def _definition(document: DocumentNode) -> OperationDefinitionNode:
    definitions = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(definitions) != 1:
        raise ValueError("each .graphql file holds exactly one operation")
    return definitions[0]


def _load() -> dict[str, Operation]:
    loaded: dict[str, Operation] = {}
    for entry in sorted(files(__package__).iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".graphql"):
            continue
        text = entry.read_text(encoding="utf-8")
        document = parse(text)
        definition = _definition(document)
        if definition.name is None:
            raise ValueError(f"{entry.name}: the operation needs a name")
        stem = entry.name.removesuffix(".graphql")
        loaded[stem] = Operation(stem, definition.name.value, text, document)
    return loaded


OPERATIONS: MappingProxyType[str, Operation] = MappingProxyType(_load())


def operation(name: str) -> Operation:
    """The operation stored as `<name>.graphql`; KeyError names the known ones."""
    try:
        return OPERATIONS[name]
    except KeyError:
        raise KeyError(f"no Shopify operation {name!r}; known: {', '.join(OPERATIONS)}") from None
