"""Connections: one TikTok shop linked to one Shopify store, credentials encrypted at rest."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from shopbridge.clock import ManualClock
from shopbridge.store import NotFound, SecretBox, Store
from shopbridge.store.tables import connections


def test_connection_round_trips_with_its_settings(store: Store) -> None:
    """Every field written comes back as written, secrets decrypted."""
    connection_id = store.add_connection(
        name="Demo",
        tiktok_app_key="app-key",
        tiktok_app_secret="app-secret",
        tiktok_shop_id="7494049642642441621",
        tiktok_shop_cipher="GCP_XF90igAAAABh00qsWgtvOiGFNqyubMt3",
        tiktok_region="US",
        shopify_domain="demo.myshopify.com",
        shopify_client_secret="client-secret",
        holdback_minutes=180,
        carrier_mapping={"UPS": "7117858858072016686"},
        timezone="America/Chicago",
    )
    connection = store.get_connection(connection_id)
    assert (connection.tiktok_app_secret, connection.shopify_client_secret) == (
        "app-secret",
        "client-secret",
    )
    assert (connection.holdback_minutes, connection.unpaid_window_minutes) == (180, 1440)
    assert connection.carrier_mapping == {"UPS": "7117858858072016686"}
    assert (connection.status, connection.timezone) == ("active", "America/Chicago")


def test_secrets_are_not_stored_in_plaintext(
    store: Store, db_engine: sa.Engine, secret_box: SecretBox
) -> None:
    """The raw token column holds ciphertext that only the store's key decrypts."""
    connection_id = store.add_connection(name="Demo", tiktok_access_token="ROW-SECRET-TOKEN")
    with db_engine.connect() as db:
        raw = db.execute(
            sa.select(connections.c.tiktok_access_token).where(connections.c.id == connection_id)
        ).scalar_one()
    assert "ROW-SECRET-TOKEN" not in raw
    assert secret_box.decrypt(raw) == "ROW-SECRET-TOKEN"


def test_updated_token_is_encrypted_too(
    store: Store, db_engine: sa.Engine, connection_id: int
) -> None:
    """A refreshed token replaces the old one, encrypted like the first."""
    store.update_connection(connection_id, tiktok_access_token="refreshed-token")
    assert store.get_connection(connection_id).tiktok_access_token == "refreshed-token"
    with db_engine.connect() as db:
        raw = db.execute(sa.select(connections.c.tiktok_access_token)).scalar_one()
    assert "refreshed-token" not in raw


def test_connection_is_found_by_tiktok_shop_and_shopify_domain(
    store: Store, connection_id: int
) -> None:
    """Webhooks find their connection by TikTok shop id or by Shopify domain."""
    by_shop = store.connection_by_tiktok_shop("7494049642642441621")
    by_domain = store.connection_by_shopify_domain("Demo.myshopify.com")
    assert by_shop is not None
    assert by_domain is not None
    assert by_shop.id == by_domain.id == connection_id
    assert store.connection_by_tiktok_shop("1") is None


def test_holdback_below_sixty_minutes_is_refused(store: Store) -> None:
    """The database refuses a holdback shorter than TikTok's one hour."""
    with pytest.raises(sa.exc.IntegrityError):
        store.add_connection(name="Too eager", holdback_minutes=30)


def test_unpaid_window_below_a_day_is_refused(store: Store) -> None:
    """The database refuses an unpaid window shorter than TikTok's 24 hours."""
    with pytest.raises(sa.exc.IntegrityError):
        store.add_connection(name="Too eager", unpaid_window_minutes=60)


def test_unknown_connection_field_is_an_error(store: Store) -> None:
    """A misspelt field is refused rather than silently dropped."""
    with pytest.raises(TypeError, match="holdback_minute"):
        store.add_connection(name="Typo", holdback_minute=90)


def test_missing_connection_raises_not_found(store: Store) -> None:
    """Asking for a connection id that does not exist raises NotFound."""
    with pytest.raises(NotFound):
        store.get_connection(12345)


def test_list_connections_in_creation_order(store: Store) -> None:
    """All connections are listed, oldest first."""
    first = store.add_connection(name="A")
    second = store.add_connection(name="B")
    assert [c.id for c in store.list_connections()] == [first, second]


def test_secret_key_file_is_created_private_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without SHOPBRIDGE_SECRET_KEY a 0600 key file is created once and then reused."""
    monkeypatch.delenv("SHOPBRIDGE_SECRET_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    ciphertext = SecretBox.from_environment().encrypt("token")
    key_file = tmp_path / "var" / "secret.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert SecretBox.from_environment().decrypt(ciphertext) == "token"


def test_secret_key_from_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SHOPBRIDGE_SECRET_KEY is used when set, and no key file is written."""
    key = SecretBox.generate_key()
    monkeypatch.setenv("SHOPBRIDGE_SECRET_KEY", key)
    monkeypatch.chdir(tmp_path)
    ciphertext = SecretBox.from_environment().encrypt("token")
    assert SecretBox(key).decrypt(ciphertext) == "token"
    assert not (tmp_path / "var").exists()


def test_secrets_written_with_a_retired_key_are_still_read() -> None:
    """With keys "new,old", old ciphertexts still decrypt and new ones use the new key."""
    old, new = SecretBox.generate_key(), SecretBox.generate_key()
    written_before = SecretBox(old).encrypt("token")
    rotated = SecretBox(f"{new},{old}")
    assert rotated.decrypt(written_before) == "token"
    assert SecretBox(new).decrypt(rotated.encrypt("token")) == "token"


def test_one_worker_starts_each_reconciliation_pass(
    store: Store, manual_clock: ManualClock, connection_id: int
) -> None:
    """Of workers asking at once, one starts the pass; the next pass is due only later."""
    due_before = manual_clock.now()
    start = threading.Barrier(4)

    def ask() -> bool:
        start.wait()
        return store.start_reconciliation(connection_id, due_before)

    with ThreadPoolExecutor(max_workers=4) as pool:
        started = [future.result() for future in [pool.submit(ask) for _ in range(4)]]
    assert sorted(started) == [False, False, False, True]
    assert store.get_connection(connection_id).last_reconciled_at == manual_clock.now()
    manual_clock.advance(timedelta(minutes=10))
    assert store.start_reconciliation(connection_id, manual_clock.now()) is True


def test_paused_connection_is_not_reconciled(store: Store, connection_id: int) -> None:
    """A paused connection never starts a reconciliation pass."""
    store.update_connection(connection_id, status="paused")
    assert store.start_reconciliation(connection_id, store.clock.now()) is False
