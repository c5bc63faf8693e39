"""Every failure of a claimed item, classified once, for every kind of item.

- **retryable**: may pass by itself (platform 5xx, timeouts, 429, THROTTLED, the network, the
  database unavailable or busy): retried with backoff and jitter, up to the attempt cap;
- **permanent**: the platform's business refusal (a 4xx, a user error): retrying cannot help,
  so it is surfaced at once, with the platform's words, for the merchant to act on and Retry;
- **malformed**: the input itself cannot be read (a delivery that is not what it claims to
  be): recorded as malformed at once, never retried;
- **access lost**: the platform no longer accepts the connection's credentials (uninstalled,
  deauthorized, tokens refused after a renewal): the connection is marked Needs reconnect and
  its work waits, neither failed nor retried in a loop, until the merchant reconnects;
- **bug**: an exception nobody classified: logged with its traceback, retried like a retryable
  failure (it may be a surprise of the moment) and surfaced when the attempts run out.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import httpx
import sqlalchemy.exc

from shopbridge.engine.ports import AccessLost, PermanentError, RetryableError


class FailureKind(StrEnum):
    RETRYABLE = "retryable"
    PERMANENT = "permanent"
    MALFORMED = "malformed"
    BUG = "bug"
    ACCESS_LOST = "access_lost"  # the platform refused the connection: wait for a reconnect


class MalformedInput(Exception):
    """The item's own content cannot be understood; retrying would read the same bytes."""


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    message: str
    code: str = ""

    @property
    def retried(self) -> bool:
        return self.kind in (FailureKind.RETRYABLE, FailureKind.BUG)


def classify(error: BaseException) -> Failure:
    match error:
        case AccessLost():
            return Failure(FailureKind.ACCESS_LOST, error.message, error.code)
        case PermanentError():
            return Failure(FailureKind.PERMANENT, error.message, error.code)
        case RetryableError():
            return Failure(FailureKind.RETRYABLE, error.message, error.code)
        case MalformedInput():
            return Failure(FailureKind.MALFORMED, str(error))
        case sqlalchemy.exc.OperationalError() | sqlalchemy.exc.InterfaceError():
            return Failure(
                FailureKind.RETRYABLE, f"the database is unavailable: {_first_line(error)}"
            )
        case sqlalchemy.exc.DBAPIError() if error.connection_invalidated:
            return Failure(
                FailureKind.RETRYABLE, f"the database connection was lost: {_first_line(error)}"
            )
        case httpx.TransportError() | TimeoutError() | ConnectionError():
            return Failure(FailureKind.RETRYABLE, f"network: {type(error).__name__}: {error}")
    return Failure(FailureKind.BUG, f"unexpected {type(error).__name__}: {error}")


def is_database_unavailable(error: BaseException) -> bool:
    """A database error that says nothing about the item (it may pass): the commit is retried."""
    return isinstance(error, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError) or (
        isinstance(error, sqlalchemy.exc.DBAPIError) and error.connection_invalidated
    )


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error)
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__
