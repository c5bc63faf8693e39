"""What can go wrong talking to Shopify, as types a caller can act on.

Every message names the call, the shop and what Shopify said, so a log line or a merchant-facing
error is enough to act on without a debugger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class ShopifyError(Exception):
    """Base of every Shopify client error."""

    def __init__(self, call: str, shop: str, detail: str) -> None:
        self.call = call
        self.shop = shop
        self.detail = detail
        super().__init__(f"Shopify {call} on {shop}: {detail}")


class ShopifyPermanent(ShopifyError):
    """Retrying the same request cannot succeed (4xx, rejected query, bad input)."""


class ShopifyAuthError(ShopifyPermanent):
    """HTTP 401/403: the access token is wrong, revoked, or lacks a scope."""


class ShopifyGraphQLError(ShopifyPermanent):
    """Top-level GraphQL `errors` other than throttling (invalid query, unknown field...)."""

    def __init__(self, call: str, shop: str, messages: Sequence[str]) -> None:
        self.messages = tuple(messages)
        super().__init__(call, shop, "; ".join(self.messages) or "GraphQL error without message")


class ShopifyQueryTooCostly(ShopifyPermanent):
    """The query would request more than the 1000 points Shopify allows per query (§8)."""


@dataclass(frozen=True)
class UserErrorDetail:
    """One entry of a payload's `userErrors`, as Shopify reported it."""

    field: tuple[str, ...]
    code: str | None
    message: str

    def describe(self) -> str:
        where = ".".join(self.field) or "-"
        return f"{self.code or 'ERROR'} at {where}: {self.message}"


class ShopifyUserError(ShopifyPermanent):
    """A mutation answered with `userErrors`: Shopify understood the call and refused it."""

    def __init__(self, call: str, shop: str, errors: Sequence[UserErrorDetail]) -> None:
        if not errors:
            raise ValueError("a ShopifyUserError needs at least one user error")
        self.errors = tuple(errors)
        super().__init__(call, shop, "; ".join(e.describe() for e in self.errors))

    @property
    def field(self) -> tuple[str, ...]:
        return self.errors[0].field

    @property
    def code(self) -> str | None:
        return self.errors[0].code

    @property
    def message(self) -> str:
        return self.errors[0].message

    def has_code(self, code: str) -> bool:
        return any(e.code == code for e in self.errors)


class ShopifyRetryable(ShopifyError):
    """5xx, timeouts or broken connections that persisted through the client's own retries."""


class ShopifyThrottled(ShopifyRetryable):
    """Shopify kept throttling past the client's patience; the bucket never recovered enough."""
