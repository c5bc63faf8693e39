"""The receivers' in-memory connections (store/connection_cache.py), on SQLite and PostgreSQL.

Secrets are decrypted once per change; a change made through the same Store is seen at once,
one made by another process within the check interval.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from shopbridge.clock import ManualClock
from shopbridge.credentials import Tokens
from shopbridge.store import SecretBox, Store, create_db_engine
from shopbridge.store.connection_cache import ConnectionCache

SHOP_ID = "7494049642642441621"
DOMAIN = "demo.myshopify.com"


class CountingSecretBox(SecretBox):
    """A SecretBox that counts its decryptions."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.decryptions = 0

    def decrypt(self, ciphertext: str) -> str:
        self.decryptions += 1
        return super().decrypt(ciphertext)


@pytest.fixture
def key() -> str:
    return SecretBox.generate_key()


@pytest.fixture
def box(key: str) -> CountingSecretBox:
    return CountingSecretBox(key)


@pytest.fixture
def here(db_engine: sa.Engine, manual_clock: ManualClock, box: CountingSecretBox) -> Store:
    """The store of the process under test."""
    return Store(db_engine, manual_clock, box)


@pytest.fixture
def elsewhere(db_url: str, manual_clock: ManualClock, key: str) -> Iterator[Store]:
    """Another process's store on the same database (its own engine, its own cache)."""
    engine = create_db_engine(db_url)
    yield Store(engine, manual_clock, SecretBox(key))
    engine.dispose()


@pytest.fixture
def connection_id(here: Store) -> int:
    return here.add_connection(
        name="Demo",
        tiktok_app_key="app-key",
        tiktok_app_secret="app-secret-1",
        tiktok_shop_id=SHOP_ID,
        shopify_domain=DOMAIN,
        shopify_client_secret="client-secret-1",
    )


def test_lookups_within_the_interval_read_nothing_and_decrypt_nothing(
    here: Store, box: CountingSecretBox, connection_id: int
) -> None:
    """Once read, the connections are served from memory: no version read and no decryption
    until the interval has passed."""
    cache = ConnectionCache(here, check_every=60)
    snapshot = cache.current_sync()
    decrypted = box.decryptions
    for _ in range(100):
        again = cache.current_sync()
        assert again.shopify_connection(" Demo.MyShopify.com ") is not None
    assert again is snapshot
    assert (cache.reads, box.decryptions) == (1, decrypted)
    [app] = snapshot.tiktok_apps
    assert (app.app_key, app.app_secret) == ("app-key", "app-secret-1")
    assert app.by_shop(SHOP_ID) == here.get_connection(connection_id)


def test_an_unchanged_connection_is_not_decrypted_again(
    here: Store, box: CountingSecretBox, connection_id: int
) -> None:
    """Past the interval the versions are read again, but a connection whose version did not
    move is kept as it was, not read or decrypted again."""
    cache = ConnectionCache(here, check_every=0.2)
    cache.current_sync()
    decrypted = box.decryptions
    time.sleep(0.2)
    cache.current_sync()
    assert cache.reads >= 2
    assert box.decryptions == decrypted


def test_a_change_through_the_same_store_is_seen_at_once(here: Store, connection_id: int) -> None:
    """update_connection in this process: the very next lookup has the new secret."""
    cache = ConnectionCache(here, check_every=3600)
    cache.current_sync()
    here.update_connection(connection_id, tiktok_app_secret="app-secret-2")
    [app] = cache.current_sync().tiktok_apps
    assert app.app_secret == "app-secret-2"


def test_a_reconnect_through_the_same_store_is_seen_at_once(
    here: Store, connection_id: int
) -> None:
    """A connection marked for reconnecting and then reconnected is seen in both states."""
    cache = ConnectionCache(here, check_every=3600)
    here.needs_reconnect(connection_id, "TikTok refused the token")
    assert cache.current_sync().records[connection_id].status == "needs_reconnect"
    here.reconnected(connection_id)
    assert cache.current_sync().records[connection_id].status == "active"


def test_another_process_change_is_seen_within_the_interval(
    here: Store, elsewhere: Store, connection_id: int
) -> None:
    """A secret rotated and a shop added by another process are seen once the check interval
    has passed; the old secret is gone."""
    interval = 0.2
    cache = ConnectionCache(here, check_every=interval)
    before = cache.current_sync()
    elsewhere.update_connection(
        connection_id,
        tiktok_app_secret="app-secret-2",
        shopify_client_secret="client-secret-2",
        shopify_previous_client_secret="client-secret-1",
    )
    added = elsewhere.add_connection(
        name="Second", shopify_domain="second.myshopify.com", tiktok_shop_id="7494049642642449999"
    )
    time.sleep(interval)
    after = cache.current_sync()
    assert after is not before
    [app] = after.tiktok_apps
    assert app.app_secret == "app-secret-2"
    connection = after.shopify_connection(DOMAIN)
    assert connection is not None
    assert (connection.shopify_client_secret, connection.shopify_previous_client_secret) == (
        "client-secret-2",
        "client-secret-1",
    )
    assert after.shopify_connection("second.myshopify.com") == elsewhere.get_connection(added)


def test_bookkeeping_and_token_renewals_do_not_invalidate(
    here: Store, elsewhere: Store, box: CountingSecretBox, connection_id: int
) -> None:
    """Reconciliation bookkeeping and renewed tokens change nothing a receiver uses: the cached
    connections are kept, not decrypted again."""
    cache = ConnectionCache(here, check_every=0.2)
    first = cache.current_sync()
    decrypted = box.decryptions
    elsewhere.update_connection(connection_id, last_reconcile_error="TikTok timed out")
    elsewhere.save_tokens(connection_id, "tiktok", Tokens("renewed-access-token"))
    time.sleep(0.2)
    assert cache.current_sync().records == first.records
    assert cache.reads >= 2
    assert box.decryptions == decrypted
