"""`shopbridge orders`: the operator's list of mirrors, on the same store reads as the web list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner

from shopbridge import cli
from shopbridge.cli import main
from shopbridge.clock import ManualClock
from shopbridge.store import SecretBox, Store

KEY = SecretBox.generate_key()


@pytest.fixture
def secret_box() -> SecretBox:
    """The store's key, which the command is given too (it decrypts the connections)."""
    return SecretBox(KEY)


def test_orders_command_lists_newest_first_with_state_and_attention(
    store: Store,
    manual_clock: ManualClock,
    connection_id: int,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every connection's orders, newest first, with TikTok status, phase and what needs
    attention; `--limit` keeps the newest."""
    for number, phase in enumerate(["held", "released", "fulfilled"]):
        manual_clock.advance(timedelta(minutes=1))
        with store.order_unit(connection_id, f"57700000000{number}") as unit:
            unit.save(
                {"n": number},
                phase=phase,
                tiktok_status="AWAITING_SHIPMENT",
                shopify_order_name=f"#{1001 + number}",
                needs_attention=number == 1,
                attention_reason="Carrier not supported" if number == 1 else None,
            )
    monkeypatch.setenv("SHOPBRIDGE_SECRET_KEY", KEY)
    # The command leaves its engine to the process's exit; a test process closes it itself.
    opened: list[Store] = []
    open_store = cli._open_store
    monkeypatch.setattr(cli, "_open_store", lambda settings: _kept(opened, open_store(settings)))
    try:
        result = CliRunner().invoke(main, ["orders", "--database-url", db_url, "--limit", "2"])
    finally:
        for command_store in opened:
            command_store.engine.dispose()
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("TikTok order")
    assert [line.split()[:2] for line in lines[1:]] == [
        ["577000000002", "#1003"],
        ["577000000001", "#1002"],
    ]
    assert lines[2].rstrip().endswith("released   Carrier not supported")


def _kept(opened: list[Store], store: Store) -> Store:
    opened.append(store)
    return store
