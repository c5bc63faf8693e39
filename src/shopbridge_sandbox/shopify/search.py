"""The part of Shopify's search syntax the mirror uses: `key:value` terms with AND and OR.

Terms side by side (or joined by `AND`) must all match; `OR` separates alternatives and
binds looser than AND. Values may be quoted ('…' or "…") and comparisons written
`key:>value`, `key:>=value`, `key:<value`, `key:<=value`. Anything else (NOT, parentheses,
free text) and any filter the sandbox does not know is refused with a GraphQL error rather
than silently ignored, so a mistyped dedupe lookup cannot match everything.
"""

from __future__ import annotations

import operator
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


def parse(query: str | None) -> list[list[Term]]:
    """The query as alternatives (OR) of term lists (AND); [] for an empty query."""
    if not query or not query.strip():
        return []
    alternatives: list[list[Term]] = [[]]
    position = 0
    text = query.strip()
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        word = text[position:].split(None, 1)[0]
        if word in ("OR", "AND"):
            if not alternatives[-1]:
                raise GraphQLError(f"Search query {query!r} has {word} without a term before it")
            if word == "OR":
                alternatives.append([])
            position += len(word)
            continue
        match = _TERM.match(text, position)
        if match is None:
            raise GraphQLError(
                f"Search term {word!r} is not understood by the shopbridge sandbox "
                "(it supports key:value terms joined by spaces, AND and OR)"
            )
        key, op, value = match.groups()
        if value[:1] in "'\"" and value[-1:] == value[:1]:
            value = value[1:-1]
        alternatives[-1].append(Term(key, op or "=", value))
        position = match.end()
    if not alternatives[-1]:
        raise GraphQLError(f"Search query {query!r} ends with a connective")
    return alternatives


def parse_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise GraphQLError(f"Invalid date in search query: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def compare(actual: Any, op: str, wanted: Any) -> bool:
    return actual is not None and _COMPARISONS[op](actual, wanted)


def filter_items(
    items: list[Any],
    query: str | None,
    matchers: dict[str, Callable[[Any, Term], bool]],
    what: str,
) -> list[Any]:
    alternatives = parse(query)
    for term in (t for terms in alternatives for t in terms):
        if term.key not in matchers:
            raise GraphQLError(
                f"{what} search filter {term.key!r} is not implemented by the shopbridge sandbox "
                f"(supported: {', '.join(sorted(matchers))})"
            )
    if not alternatives:
        return list(items)
    return [
        i for i in items if any(all(matchers[t.key](i, t) for t in terms) for terms in alternatives)
    ]
