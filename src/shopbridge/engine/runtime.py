"""Build what the worker needs for each stored connection."""

from __future__ import annotations

from collections.abc import Callable

from shopbridge.clock import Clock
from shopbridge.domain.policy import Policy
from shopbridge.engine.executors import ConnectionContext
from shopbridge.engine.ports import PermanentError
from shopbridge.store import ConnectionRecord, Store


def policy_for(record: ConnectionRecord) -> Policy:
    return Policy.from_minutes(
        holdback_minutes=record.holdback_minutes,
        unpaid_window_minutes=record.unpaid_window_minutes,
        region=record.tiktok_region or "US",
    )


def stored_connections(store: Store, clock: Clock) -> Callable[[int], ConnectionContext]:
    """Contexts for connections kept in the store.

    The HTTP gateways that speak to TikTok Shop and Shopify for a stored connection are wired
    in with connection management (`shopbridge connect`); until then a stored connection's work
    fails with this explanation instead of silently waiting.
    """

    def context(connection_id: int) -> ConnectionContext:
        record = store.get_connection(connection_id)
        raise PermanentError(
            f"connection {record.name!r} has no platform gateways configured in this version; "
            "use `shopbridge demo` to see the workflow end to end"
        )

    return context
