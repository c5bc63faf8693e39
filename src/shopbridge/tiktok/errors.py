"""TikTok Shop API failures, sorted by what the caller should do next.

Every response carries the envelope `{code, message, request_id, data}` whatever its HTTP
status (tiktok_shop_api.md §6.1: the status of business errors is unconfirmed, so `code`
decides). The three kinds:

- `TikTokRetryable`: try again later (HTTP 429 and 5xx, timeouts and connection errors,
  codes 36009002 too many requests, 36009003 internal error, 36009007 request timeout; §6.2-6.3).
- `TikTokTokenExpired`: 105002, the access token expired; refresh it and call again (§5).
- `TikTokPermanent`: everything else (bad sign 106001, token/shop mismatch 101000, invalid
  order state, ...). Repeating the same request cannot succeed; a person must act.
"""

from __future__ import annotations

RETRYABLE_CODES = frozenset({36009002, 36009003, 36009007})
TOKEN_EXPIRED_CODE = 105002


class TikTokError(Exception):
    """A failed TikTok Shop call, with what the platform said and which call it was."""

    def __init__(
        self,
        code: int | None,
        message: str,
        request_id: str | None,
        endpoint: str,
        http_status: int | None,
    ) -> None:
        self.code = code
        self.message = message
        self.request_id = request_id
        self.endpoint = endpoint
        self.http_status = http_status
        super().__init__(self._describe())

    def _describe(self) -> str:
        facts = [f"code {self.code}" if self.code is not None else "no code"]
        if self.http_status is not None:
            facts.append(f"HTTP {self.http_status}")
        if self.request_id:
            facts.append(f"request_id {self.request_id}")
        return f"TikTok Shop {self.endpoint} failed: {self.message} ({', '.join(facts)})"

    def __reduce__(self) -> tuple[object, ...]:
        # Keeps the error picklable despite the keyword-rich constructor.
        args = (self.code, self.message, self.request_id, self.endpoint, self.http_status)
        return (type(self), args)


class TikTokRetryable(TikTokError):
    """Throttled, overloaded or unreachable: the same call may succeed later."""


class TikTokTokenExpired(TikTokError):
    """The access token expired (105002): refresh it on the auth host, then call again."""


class TikTokPermanent(TikTokError):
    """Refused for a reason that retrying cannot fix; the message says what to change."""


def classify(
    code: int | None,
    message: str,
    request_id: str | None,
    endpoint: str,
    http_status: int | None,
) -> TikTokError:
    """The error for one failed response; `code` None means no envelope came back."""
    args = (code, message, request_id, endpoint, http_status)
    if code == TOKEN_EXPIRED_CODE:
        return TikTokTokenExpired(*args)
    if code in RETRYABLE_CODES:
        return TikTokRetryable(*args)
    if http_status is not None and (http_status == 429 or http_status >= 500):
        return TikTokRetryable(*args)
    return TikTokPermanent(*args)
