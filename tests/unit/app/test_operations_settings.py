"""The readiness, metrics and log settings: read like every other setting, checked on load."""

from __future__ import annotations

import pytest

from shopbridge.config import ConfigError, load_settings
from shopbridge.web.health import ReadinessLimits


def test_operations_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """SHOPBRIDGE_READY_*, _METRICS_* and _LOG_FORMAT are read and typed like the rest."""
    monkeypatch.setenv("SHOPBRIDGE_READY_WORKER_SILENCE_SECONDS", "30")
    monkeypatch.setenv("SHOPBRIDGE_READY_MAX_WAIT_MINUTES", "2.5")
    monkeypatch.setenv("SHOPBRIDGE_METRICS_TOKEN", "scrape-token")
    monkeypatch.setenv("SHOPBRIDGE_METRICS_PORT", "9464")
    monkeypatch.setenv("SHOPBRIDGE_LOG_FORMAT", "json")
    settings = load_settings()
    assert (settings.metrics_token, settings.metrics_port, settings.log_format) == (
        "scrape-token",
        9464,
        "json",
    )
    limits = ReadinessLimits.from_settings(settings)
    assert (limits.worker_silence_seconds, limits.max_wait_seconds) == (30, 150)


def test_defaults_leave_metrics_open_and_the_worker_port_off() -> None:
    """Out of the box: /metrics needs no token, no worker port is opened, logs pick a format."""
    settings = load_settings()
    assert (settings.metrics_token, settings.metrics_port) == ("", 0)
    assert (settings.metrics_host, settings.log_format) == ("127.0.0.1", "auto")
    assert ReadinessLimits.from_settings(settings) == ReadinessLimits(60, 300, 2)


def test_default_worker_silence_grows_with_a_slow_heartbeat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Unset, the silence limit is 60 s or three heartbeats: a worker beating every 30 s is
    not declared dead between two beats, and a config that worked before still loads."""
    monkeypatch.setenv("SHOPBRIDGE_WORKER_HEARTBEAT_SECONDS", "30")
    monkeypatch.setenv("SHOPBRIDGE_WORKER_LEASE_SECONDS", "90")
    assert ReadinessLimits.from_settings(load_settings()).worker_silence_seconds == 90


@pytest.mark.parametrize(
    ("variable", "raw", "message"),
    [
        ("SHOPBRIDGE_LOG_FORMAT", "xml", "log_format must be auto, json or text, got 'xml'"),
        (
            "SHOPBRIDGE_READY_MAX_WAIT_MINUTES",
            "0",
            "ready_max_wait_minutes must be positive, got 0",
        ),
        ("SHOPBRIDGE_METRICS_PORT", "70000", "metrics_port must be 0 .off. or a port"),
        (
            "SHOPBRIDGE_READY_WORKER_SILENCE_SECONDS",
            "3",
            r"ready_worker_silence_seconds \(3\) must be at least twice worker_heartbeat",
        ),
    ],
)
def test_unusable_operations_settings_are_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, variable: str, raw: str, message: str
) -> None:
    """A value that cannot work is refused at start, naming the setting and the environment."""
    monkeypatch.setenv(variable, raw)
    with pytest.raises(ConfigError, match=f"in the environment: {message}"):
        load_settings()
