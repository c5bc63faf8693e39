"""The GraphQL documents the Shopify client sends: one operation per `.graphql` file.

Each file is named by intent (`hold_fulfillment_order.graphql`) and is parsed once, at import,
so a syntax error fails the import rather than the first call. A selection two operations share
lives once, as a fragment in a `*.fragment.graphql` file; each operation that spreads it is sent
with it appended. The test suite validates every document against the vendored 2026-07 schema;
parsing here needs no schema and is cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from types import MappingProxyType

from graphql import DocumentNode, FragmentSpreadNode, OperationDefinitionNode, parse, visit
from graphql.language import Visitor


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


FRAGMENT_SUFFIX = ".fragment.graphql"


class _Spreads(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: object) -> None:
        self.names.append(node.name.value)


def _with_fragments(text: str, fragments: dict[str, str]) -> str:
    """The operation's text with every fragment it spreads (and theirs) appended, once."""
    added: list[str] = []
    pending = [text]
    while pending:
        spreads = _Spreads()
        visit(parse(pending.pop()), spreads)
        for name in spreads.names:
            if name not in added:
                if name not in fragments:
                    raise ValueError(f"fragment {name} is not defined in any {FRAGMENT_SUFFIX}")
                added.append(name)
                pending.append(fragments[name])
    return "\n".join([text, *(fragments[name] for name in added)])


def _load() -> dict[str, Operation]:
    entries = sorted(files(__package__).iterdir(), key=lambda e: e.name)
    fragments: dict[str, str] = {}
    for entry in entries:
        if entry.name.endswith(FRAGMENT_SUFFIX):
            text = entry.read_text(encoding="utf-8")
            for definition in parse(text).definitions:
                name = getattr(definition, "name", None)
                if name is not None:
                    fragments[name.value] = text
    loaded: dict[str, Operation] = {}
    for entry in entries:
        if not entry.name.endswith(".graphql") or entry.name.endswith(FRAGMENT_SUFFIX):
            continue
        text = _with_fragments(entry.read_text(encoding="utf-8"), fragments)
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
