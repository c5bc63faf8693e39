"""The connections as the webhook receivers need them: in memory, secrets decrypted once.

Listing the connections and decrypting their secrets on every request cost 313 µs and a
database round trip per webhook. Here a snapshot is kept per Store and checked, at most every
`check_every` seconds (1 s by default), against one small read of every connection's settings
version (`Store.connection_versions`); only connections whose version moved are read and
decrypted again. Every change that matters to a receiver (an app or client secret, a shop id or
domain, a reconnect) bumps the settings version (`Store.update_connection`, `reconnected`,
`add_connection` adds a row), so:

- a change made through this process's Store is seen by the next request at once (the Store
  counts its own changes, `connections_generation`);
- a change made by another process (the CLI, another `serve`) is seen by every request that
  starts more than `check_every` seconds after it committed: after a secret rotation or a
  reconnect the new secret verifies, and a removed one stops verifying, within that bound.

Tokens are not settings (`Store.save_tokens` does not bump the version): the receivers never
use them, and nothing else should read them from here.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shopbridge.store.records import ConnectionRecord

if TYPE_CHECKING:
    from shopbridge.store.store import Store

CHECK_EVERY_SECONDS = 1.0


@dataclass(frozen=True)
class TikTokApp:
    """One TikTok app (key and secret) and the connections whose webhooks it signs."""

    app_key: str
    app_secret: str
    connections: tuple[ConnectionRecord, ...]

    def by_shop(self, shop_id: str) -> ConnectionRecord | None:
        return next((c for c in self.connections if c.tiktok_shop_id == shop_id), None)


@dataclass(frozen=True)
class ConnectionSnapshot:
    """Every connection at one moment, indexed the ways the receivers look them up."""

    records: Mapping[int, ConnectionRecord]
    tiktok_apps: tuple[TikTokApp, ...]
    by_shopify_domain: Mapping[str, ConnectionRecord]
    read_started: float  # time.monotonic() when the read this snapshot reflects began
    generation: int  # the Store's connections_generation when that read began

    @classmethod
    def of(
        cls, records: Mapping[int, ConnectionRecord], read_started: float, generation: int
    ) -> ConnectionSnapshot:
        apps: dict[tuple[str, str], list[ConnectionRecord]] = {}
        for record in records.values():
            if record.tiktok_app_key and record.tiktok_app_secret:
                apps.setdefault((record.tiktok_app_key, record.tiktok_app_secret), []).append(
                    record
                )
        return cls(
            records=dict(records),
            tiktok_apps=tuple(
                TikTokApp(key, secret, tuple(sorted(found, key=lambda c: c.id)))
                for (key, secret), found in sorted(apps.items())
            ),
            by_shopify_domain={r.shopify_domain: r for r in records.values() if r.shopify_domain},
            read_started=read_started,
            generation=generation,
        )

    def shopify_connection(self, domain: str) -> ConnectionRecord | None:
        """The connection of a `*.myshopify.com` domain, written as Shopify sends it."""
        return self.by_shopify_domain.get(domain.strip().lower())


@dataclass
class ConnectionCache:
    """Snapshots of a Store's connections, refreshed as the module docstring says."""

    store: Store
    check_every: float = CHECK_EVERY_SECONDS
    _snapshot: ConnectionSnapshot | None = None
    _in_flight: Future[ConnectionSnapshot] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _reader: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="shopbridge-connections")
    )
    reads: int = 0  # version reads done (for tests and benchmarks)

    async def current(self) -> ConnectionSnapshot:
        """A snapshot no older than the bound; waits (off the event loop) for a read if needed."""
        snapshot = self._snapshot
        while snapshot is None or self._stale(snapshot):
            snapshot = await asyncio.wrap_future(self._refresh())
        return snapshot

    def current_sync(self) -> ConnectionSnapshot:
        """`current` for callers in a thread."""
        snapshot = self._snapshot
        while snapshot is None or self._stale(snapshot):
            snapshot = self._refresh().result()
        return snapshot

    def close(self) -> None:
        self._reader.shutdown(wait=False)

    def _stale(self, snapshot: ConnectionSnapshot) -> bool:
        return (
            snapshot.generation != self.store.connections_generation
            or time.monotonic() - snapshot.read_started >= self.check_every
        )

    def _refresh(self) -> Future[ConnectionSnapshot]:
        """The read under way, or a new one: concurrent requests share one read."""
        with self._lock:
            if self._in_flight is None or self._in_flight.done():
                self._in_flight = self._reader.submit(self._read)
            return self._in_flight

    def _read(self) -> ConnectionSnapshot:
        # Taken before the read: a change committed after this moment may be missed by this
        # read, and is caught by the next one, at most `check_every` later.
        started = time.monotonic()
        generation = self.store.connections_generation
        versions = self.store.connection_versions()
        self.reads += 1
        previous = self._snapshot.records if self._snapshot is not None else {}
        kept = {
            cid: record
            for cid, record in previous.items()
            if versions.get(cid) == record.settings_version
        }
        changed = [cid for cid in versions if cid not in kept]
        records = {**kept, **{r.id: r for r in self.store.connections_by_ids(changed)}}
        snapshot = ConnectionSnapshot.of(records, started, generation)
        self._snapshot = snapshot
        return snapshot
