"""Configuration precedence and the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from shopbridge import __version__
from shopbridge.cli import main
from shopbridge.config import ConfigError, load_settings


def test_flags_beat_environment_beat_file_beat_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each setting comes from the flag, else the environment, else the file, else the default."""
    config = tmp_path / "shopbridge.toml"
    config.write_text('[shopbridge]\nport = 9100\nhost = "0.0.0.0"\nlog_level = "debug"\n')
    monkeypatch.setenv("SHOPBRIDGE_PORT", "9200")
    monkeypatch.setenv("SHOPBRIDGE_HOST", "127.0.0.2")
    settings = load_settings(str(config), host="127.0.0.3")
    assert settings.host == "127.0.0.3"
    assert settings.port == 9200
    assert settings.log_level == "debug"
    assert settings.worker_batch_size == 10


def test_unknown_or_badly_typed_settings_are_named(tmp_path: Path) -> None:
    """A typo or a wrong type in the config file is reported with the setting and the source."""
    config = tmp_path / "bad.toml"
    config.write_text("prot = 1\n")
    with pytest.raises(ConfigError, match="unknown setting 'prot'"):
        load_settings(str(config))
    config.write_text('port = "eighty"\n')
    with pytest.raises(ConfigError, match=r"port in .* must be a whole number"):
        load_settings(str(config))
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(str(tmp_path / "missing.toml"))


def test_secure_cookies_follow_the_public_url_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """Secure cookies and HSTS are on for an https public_url, off for http, and an explicit
    secure_cookies wins either way; the session timeouts default to 120 min and 12 h."""
    defaults = load_settings()
    assert (defaults.session_idle_minutes, defaults.session_max_hours) == (120, 12)
    assert not defaults.cookies_secure()
    monkeypatch.setenv("SHOPBRIDGE_PUBLIC_URL", "https://bridge.example.com")
    assert load_settings().cookies_secure()
    monkeypatch.setenv("SHOPBRIDGE_SECURE_COOKIES", "false")
    assert not load_settings().cookies_secure()
    monkeypatch.setenv("SHOPBRIDGE_PUBLIC_URL", "http://127.0.0.1:8000")
    monkeypatch.setenv("SHOPBRIDGE_SECURE_COOKIES", "true")
    assert load_settings().cookies_secure()
    monkeypatch.setenv("SHOPBRIDGE_SECURE_COOKIES", "sometimes")
    with pytest.raises(
        ConfigError, match="secure_cookies in the environment must be true or false"
    ):
        load_settings()
    monkeypatch.setenv("SHOPBRIDGE_SECURE_COOKIES", "true")
    monkeypatch.setenv("SHOPBRIDGE_SESSION_IDLE_MINUTES", "0")
    with pytest.raises(ConfigError, match="session_idle_minutes and session_max_hours"):
        load_settings()


def test_version() -> None:
    """`shopbridge --version` prints the version."""
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    """`shopbridge db upgrade` migrates a new SQLite file and says so."""
    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    result = CliRunner().invoke(main, ["db", "upgrade", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output
    assert (tmp_path / "x.sqlite3").exists()


def test_demo_runs_every_path_without_breach(tmp_path: Path) -> None:
    """The demo plays every workflow path over both sandboxes and reports no breach."""
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    args = ["demo", "--orders", "20", "--hour-seconds", "1", "--database-url", url]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "No breach" in result.output
    for path in ("cancelled by TikTok after 24 h", "fulfilled with tracking (UPS)"):
        assert path in result.output
