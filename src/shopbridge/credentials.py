"""Access tokens as the platform clients see them: where the current one comes from, and what to
do when the platform refuses it.

A client asks its `TokenSource` for the token before every call and reports a refusal (Shopify's
401, TikTok's 105002) with `rejected`; the source says whether a different token is now worth one
more try. `FixedToken` is a token that never changes (a legacy Shopify admin token, tests);
`shopbridge.engine.tokens.StoredTokens` renews tokens kept in the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol


@dataclass(frozen=True)
class Tokens:
    """An access token and what renews it, as a platform granted them."""

    access_token: str
    expires_at: datetime | None = None  # None: does not expire
    refresh_token: str | None = None
    refresh_expires_at: datetime | None = None

    def due(self, now: datetime, margin: timedelta) -> bool:
        """Whether to renew now: it expires within `margin`."""
        return self.expires_at is not None and self.expires_at - margin <= now


class TokenSource(Protocol):
    async def token(self) -> str:
        """The access token to send now."""
        ...

    async def rejected(self, token: str) -> bool:
        """The platform refused `token`: True when a different token is ready to try once."""
        ...


class FixedToken:
    """A token that never changes: a refusal is final."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def token(self) -> str:
        return self._token

    async def rejected(self, token: str) -> bool:
        return False
