"""Log lines: JSON off a terminal, words on one, the item's ids on each, never a secret."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from shopbridge.logs import REDACTED, bind_item, configure_logging


class Terminal(io.StringIO):
    """A stream that says it is a terminal, as stderr is when a person runs shopbridge."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state: put it back for the next test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    chatty = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    saved = structlog.get_config()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, chatty_level in chatty.items():
        logging.getLogger(name).setLevel(chatty_level)
    structlog.configure(**saved)


def library_logger(name: str, monkeypatch: pytest.MonkeyPatch) -> logging.Logger:
    """A library's logger as it is when nothing configured it (uvicorn's with log_config=None):
    an earlier test's uvicorn server may have given it handlers of its own."""
    parts = name.split(".")
    for depth in range(1, len(parts) + 1):  # "uvicorn" itself too: its handler ends the chain
        logger = logging.getLogger(".".join(parts[:depth]))
        monkeypatch.setattr(logger, "handlers", [])
        monkeypatch.setattr(logger, "propagate", True)
        monkeypatch.setattr(logger, "level", logging.NOTSET)
    return logging.getLogger(name)


def json_lines(text: str) -> list[dict[str, Any]]:
    """Each line parsed as its own JSON object (fails on any line that is not one)."""
    return [json.loads(line) for line in text.splitlines()]


def test_json_lines_when_stderr_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    """Under systemd or Docker every line is one JSON object with time, level, logger, event."""
    configure_logging("info")
    log = structlog.get_logger("shopbridge.test")
    log.info("order reserved", shopify_order="#1001")
    log.warning("shopify throttled", waited=1.5)
    captured = capsys.readouterr()
    [info] = json_lines(captured.out)
    [warning] = json_lines(captured.err)
    assert info["event"] == "order reserved"
    assert info["level"] == "info"
    assert info["logger"] == "shopbridge.test"
    assert info["shopify_order"] == "#1001"
    assert info["timestamp"].endswith("Z")
    assert (warning["level"], warning["waited"]) == ("warning", 1.5)


def test_human_lines_on_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A person at a terminal reads words, not JSON."""
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    configure_logging("info")
    structlog.get_logger("shopbridge.test").warning("shopify throttled", waited=1.5)
    line = re.sub(r"\x1b\[[0-9;]*m", "", terminal.getvalue())  # without its colours
    assert "[warning  ] shopify throttled" in line
    assert "waited=1.5" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_log_format_setting_overrides_the_guess(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SHOPBRIDGE_LOG_FORMAT=json gives JSON on a terminal too; text gives words off one."""
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    configure_logging("info", "json")
    structlog.get_logger("shopbridge.test").warning("as json")
    assert json_lines(terminal.getvalue())[0]["event"] == "as json"
    monkeypatch.undo()
    configure_logging("info", "text")
    structlog.get_logger("shopbridge.test").warning("as text")
    assert "as text" in capsys.readouterr().err
    with pytest.raises(ValueError, match="log format must be one of auto, json, text"):
        configure_logging("info", "xml")


def test_warnings_and_errors_go_to_stderr_the_rest_to_stdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`2>` alone keeps what needs a look; debug lines appear only at debug level."""
    configure_logging("debug")
    log = structlog.get_logger("shopbridge.test")
    log.debug("polled")
    log.info("reserved")
    log.warning("throttled")
    log.error("gave up")
    captured = capsys.readouterr()
    assert [line["event"] for line in json_lines(captured.out)] == ["polled", "reserved"]
    assert [line["event"] for line in json_lines(captured.err)] == ["throttled", "gave up"]
    configure_logging("warning")
    log.info("not shown")
    assert capsys.readouterr() == ("", "")


def test_standard_library_loggers_get_the_same_lines(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvicorn, httpx and the sandboxes log through `logging`: same format, same streams."""
    configure_logging("info")
    library_logger("uvicorn.error", monkeypatch).warning("port %d busy", 8000)
    [line] = json_lines(capsys.readouterr().err)
    assert (line["event"], line["logger"], line["level"]) == (
        "port 8000 busy",
        "uvicorn.error",
        "warning",
    )


def test_every_line_inside_an_item_carries_its_ids(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker binds the connection and order of the item at hand; lines from any logger
    carry them, lines after it do not."""
    configure_logging("info")
    log = structlog.get_logger("shopbridge.worker")
    with bind_item(connection_id=7, tiktok_order_id="576486316948490001", deadline=None):
        log.info("releasing")
        library_logger("shopbridge_sandbox.tiktok", monkeypatch).warning("sandbox says hi")
    log.info("idle")
    captured = capsys.readouterr()
    releasing, idle = json_lines(captured.out)
    [sandbox] = json_lines(captured.err)
    for line in (releasing, sandbox):
        assert line["connection_id"] == 7
        assert line["tiktok_order_id"] == "576486316948490001"
        assert "deadline" not in line
    assert "connection_id" not in idle


async def test_concurrent_items_keep_their_own_ids(capsys: pytest.CaptureFixture[str]) -> None:
    """Items run as concurrent tasks: each line names its own order, never its neighbour's."""
    import asyncio

    configure_logging("info")
    log = structlog.get_logger("shopbridge.worker")

    async def handle(order_id: str) -> None:
        with bind_item(connection_id=1, tiktok_order_id=order_id):
            await asyncio.sleep(0)
            log.info("handled", order=order_id)

    await asyncio.gather(*(handle(f"5770000000{n:02d}") for n in range(10)))
    lines = json_lines(capsys.readouterr().out)
    assert len(lines) == 10
    assert all(line["tiktok_order_id"] == line["order"] for line in lines)


def test_secret_looking_fields_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    """Tokens, secrets, passwords, Authorization and Shopify's HMAC never reach a line, also
    inside a headers dict logged whole; other fields are left alone."""
    configure_logging("info")
    structlog.get_logger("shopbridge.test").info(
        "token refreshed",
        access_token="TTP_live_access",
        refresh_token="TTP_live_refresh",
        app_secret="tiktok-app-secret",
        shopify_client_secret="shpss_live",
        password="correct horse battery staple",
        headers={
            "Authorization": "Bearer eyJhbGciOi",
            "X-Shopify-Hmac-Sha256": "c2lnbmF0dXJl",
            "content-type": "application/json",
        },
        shop="demo.myshopify.com",
    )
    text = capsys.readouterr().out
    [line] = json_lines(text)
    for field in ("access_token", "refresh_token", "app_secret", "shopify_client_secret"):
        assert line[field] == REDACTED
    assert line["password"] == REDACTED
    assert line["headers"] == {
        "Authorization": REDACTED,
        "X-Shopify-Hmac-Sha256": REDACTED,
        "content-type": "application/json",
    }
    assert line["shop"] == "demo.myshopify.com"
    for secret in ("TTP_live", "tiktok-app-secret", "shpss_live", "horse", "eyJhbGciOi"):
        assert secret not in text


def test_credentials_in_urls_and_known_secret_values_are_redacted(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A signed URL's query and the configured secrets are redacted wherever they appear: in a
    message, in any field, in a traceback."""
    key = "dGhpcyBpcyBhIHNlY3JldCBrZXkgb2YgMzIgYnl0ZXM="
    monkeypatch.setenv("SHOPBRIDGE_SECRET_KEY", key)
    configure_logging("info", secrets=["shpat_configured_token"])
    log = structlog.get_logger("shopbridge.test")
    log.info(
        "callback",
        url="https://shopbridge.example.com/connect/shopify?code=abc123&shop=demo&hmac=f00d",
        note=f"key {key} and shpat_configured_token",
    )
    try:
        raise RuntimeError("GET https://open-api.example/orders?app_key=k&sign=deadbeef failed")
    except RuntimeError:
        log.exception("call failed")
    text = capsys.readouterr()
    [callback] = json_lines(text.out)
    [failure] = json_lines(text.err)
    assert callback["url"] == (
        f"https://shopbridge.example.com/connect/shopify?code={REDACTED}&shop=demo&hmac={REDACTED}"
    )
    assert callback["note"] == f"key {REDACTED} and {REDACTED}"
    assert f"sign={REDACTED}" in failure["exception"]
    assert "deadbeef" not in failure["exception"]
    assert "RuntimeError" in failure["exception"]


def test_other_handlers_see_redacted_events_too(caplog: pytest.LogCaptureFixture) -> None:
    """A handler someone else adds to the root logger (here pytest's) gets the event already
    redacted: the secret never leaves structlog."""
    configure_logging("info")
    with caplog.at_level(logging.INFO):
        structlog.get_logger("shopbridge.test").info("renewed", refresh_token="TTP_live_refresh")
    [record] = caplog.records
    assert isinstance(record.msg, dict)
    assert record.msg["refresh_token"] == REDACTED


def test_access_log_lines_lose_their_one_use_codes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvicorn's access line carries the query: a setup code or an OAuth code in it is
    redacted, the rest of the line kept."""
    configure_logging("info")
    library_logger("uvicorn.access", monkeypatch).info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/setup?code=Zx81-secret", "1.1", 200
    )
    [line] = json_lines(capsys.readouterr().out)
    assert line["event"] == f'127.0.0.1:5000 - "GET /setup?code={REDACTED} HTTP/1.1" 200'
