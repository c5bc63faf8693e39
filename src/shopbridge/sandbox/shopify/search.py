"""The part of Shopify's search syntax the mirror uses: space-separated `key:value` terms, ANDed.

Values may be quoted ('…' or "…") and comparisons written `key:>value`, `key:>=value`,
`key:<value`, `key:<=value`. A filter the sandbox does not know is refused with a GraphQL
error rather than silently ignored, so a mistyped dedupe lookup cannot match everything.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLError

_TERM = re.compile(r"""(\w+):(>=|<=|>|<)?("[^"]*"|'[^']*'|\S+)""")


@dataclass(frozen=True)
class Term:
    key: str
    op: str  # "=", ">", ">=", "<", "<="
    value: str


def parse(query: str | None) -> list[Term]:
    if not query or not query.strip():
        return []
    terms: list[Term] = []
    position = 0
    text = query.strip()
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        match = _TERM.match(text, position)
        if match is None:
            raise GraphQLError(
                f"Search term {text[position:].split()[0]!r} is not understood by the "
                "shopbridge sandbox (it supports key:value terms joined by spaces)"
            )
        key, op, value = match.groups()
        if value[:1] in "'\"" and value[-1:] == value[:1]:
            value = value[1:-1]
        terms.append(Term(key, op or "=", value))
        position = match.end()
    return terms


def parse_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise GraphQLError(f"Invalid date in search query: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def compare(actual: Any, op: str, wanted: Any) -> bool:
    if actual is None:
        return False
    outcome: bool = {
        "=": actual == wanted,
        ">": actual > wanted,
        ">=": actual >= wanted,
        "<": actual < wanted,
        "<=": actual <= wanted,
    }[op]
    return outcome


def filter_items(
    items: list[Any],
    query: str | None,
    matchers: dict[str, Callable[[Any, Term], bool]],
    what: str,
) -> list[Any]:
    terms = parse(query)
    for term in terms:
        if term.key not in matchers:
            raise GraphQLError(
                f"{what} search filter {term.key!r} is not implemented by the shopbridge sandbox "
                f"(supported: {', '.join(sorted(matchers))})"
            )
    return [i for i in items if all(matchers[t.key](i, t) for t in terms)]
