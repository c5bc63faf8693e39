"""shopbridge's configuration, in one place.

Each setting comes from, in order of precedence: a command-line flag, an environment variable
(`SHOPBRIDGE_<NAME>`), the config file (TOML; `--config PATH` or `SHOPBRIDGE_CONFIG`), then the
default below.

| setting | environment | default |
|---|---|---|
| database_url | SHOPBRIDGE_DATABASE_URL | `sqlite:///./var/shopbridge.sqlite3` |
| host | SHOPBRIDGE_HOST | 127.0.0.1 |
| port | SHOPBRIDGE_PORT | 8000 |
| log_level | SHOPBRIDGE_LOG_LEVEL | info |
| clock | SHOPBRIDGE_CLOCK | system (or scaled:FACTOR for rehearsals; see `clock.py`) |
| serve_worker | SHOPBRIDGE_SERVE_WORKER | true (`serve` runs a worker too; false: web only) |
| worker_batch_size | SHOPBRIDGE_WORKER_BATCH_SIZE | 10 |
| worker_concurrency | SHOPBRIDGE_WORKER_CONCURRENCY | 4 (items a worker runs at once) |
| worker_heartbeat_seconds | SHOPBRIDGE_WORKER_HEARTBEAT_SECONDS | 2 (real seconds) |
| worker_lease_seconds | SHOPBRIDGE_WORKER_LEASE_SECONDS | 10 (real s, renewed by heartbeats) |
| worker_idle_seconds | SHOPBRIDGE_WORKER_IDLE_SECONDS | 0.2 |
| max_attempts | SHOPBRIDGE_MAX_ATTEMPTS | 8 |
| reconcile_minutes | SHOPBRIDGE_RECONCILE_MINUTES | 5 |
| poll_seconds | SHOPBRIDGE_POLL_SECONDS | 60 (quick look for new TikTok orders) |
| public_url | SHOPBRIDGE_PUBLIC_URL | (none: where the platforms reach shopbridge) |
| shopify_client_id | SHOPBRIDGE_SHOPIFY_CLIENT_ID | (none: your Shopify app's client id) |
| shopify_client_secret | SHOPBRIDGE_SHOPIFY_CLIENT_SECRET | (none) |
| shopify_grant | SHOPBRIDGE_SHOPIFY_GRANT | authorization_code (or client_credentials) |
| shopify_api_url | SHOPBRIDGE_SHOPIFY_API_URL | (none: https://SHOP; a sandbox's address) |
| tiktok_app_key | SHOPBRIDGE_TIKTOK_APP_KEY | (none: your TikTok Shop app's key) |
| tiktok_app_secret | SHOPBRIDGE_TIKTOK_APP_SECRET | (none) |
| tiktok_service_id | SHOPBRIDGE_TIKTOK_SERVICE_ID | (none: from Partner Center) |
| tiktok_authorize_url | SHOPBRIDGE_TIKTOK_AUTHORIZE_URL | https://services.us.tiktokshop.com/… |
| tiktok_api_url | SHOPBRIDGE_TIKTOK_API_URL | https://open-api.tiktokglobalshop.com |
| tiktok_auth_url | SHOPBRIDGE_TIKTOK_AUTH_URL | https://auth.tiktok-shops.com |
| alert_email | SHOPBRIDGE_ALERT_EMAIL | (none: where alerts are mailed) |
| smtp_url | SHOPBRIDGE_SMTP_URL | (none: smtp://user:password@host:587, smtps://… for TLS) |
| smtp_from | SHOPBRIDGE_SMTP_FROM | shopbridge@localhost |
| alert_webhook_url | SHOPBRIDGE_ALERT_WEBHOOK_URL | (none: a Slack-compatible incoming webhook) |
| alert_digest_minutes | SHOPBRIDGE_ALERT_DIGEST_MINUTES | 15 (at most one digest this often) |
| webhook_silence_minutes | SHOPBRIDGE_WEBHOOK_SILENCE_MINUTES | 120 (no webhook this long: alert) |
| session_idle_minutes | SHOPBRIDGE_SESSION_IDLE_MINUTES | 120 (a session unused this long ends) |
| session_max_hours | SHOPBRIDGE_SESSION_MAX_HOURS | 12 (every session ends this long after login) |
| secure_cookies | SHOPBRIDGE_SECURE_COOKIES | on if public_url is https (Secure cookies, HSTS) |
| webhook_max_bytes | SHOPBRIDGE_WEBHOOK_MAX_BYTES | 1048576 (larger webhook bodies: 413) |
| webhook_replay_hours | SHOPBRIDGE_WEBHOOK_REPLAY_HOURS | 24 (older Shopify deliveries: replays) |
| ready_worker_silence_seconds | SHOPBRIDGE_READY_WORKER_SILENCE_SECONDS | 0: 60 s or 3 heartbeats |
| ready_max_wait_minutes | SHOPBRIDGE_READY_MAX_WAIT_MINUTES | 5 (due work unclaimed: not ready) |
| ready_database_timeout_seconds | SHOPBRIDGE_READY_DATABASE_TIMEOUT_SECONDS | 2 |
| metrics_token | SHOPBRIDGE_METRICS_TOKEN | (none: /metrics open; else a bearer token) |
| metrics_port | SHOPBRIDGE_METRICS_PORT | 0 (off; a worker's own /metrics port) |
| metrics_host | SHOPBRIDGE_METRICS_HOST | 127.0.0.1 (where that port listens) |
| log_format | SHOPBRIDGE_LOG_FORMAT | auto (JSON unless stderr is a terminal; json, text) |

Secrets at rest are encrypted with `SHOPBRIDGE_SECRET_KEY` (a Fernet key; see
`shopbridge.store.secrets`).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A setting that cannot be used; the message names it and where it came from."""


@dataclass(frozen=True)
class Settings:
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"
    clock: str = "system"
    serve_worker: bool = True
    worker_batch_size: int = 10
    worker_concurrency: int = 4
    worker_heartbeat_seconds: float = 2.0
    worker_lease_seconds: float = 10.0
    worker_idle_seconds: float = 0.2
    max_attempts: int = 8
    reconcile_minutes: float = 5.0
    poll_seconds: float = 60.0
    public_url: str = ""
    shopify_client_id: str = ""
    shopify_client_secret: str = ""
    shopify_grant: str = "authorization_code"
    shopify_api_url: str = ""
    tiktok_app_key: str = ""
    tiktok_app_secret: str = ""
    tiktok_service_id: str = ""
    tiktok_authorize_url: str = "https://services.us.tiktokshop.com/open/authorize"
    tiktok_api_url: str = "https://open-api.tiktokglobalshop.com"
    tiktok_auth_url: str = "https://auth.tiktok-shops.com"
    alert_email: str = ""
    smtp_url: str = ""
    smtp_from: str = "shopbridge@localhost"
    alert_webhook_url: str = ""
    alert_digest_minutes: float = 15.0
    webhook_silence_minutes: float = 120.0
    webhook_max_bytes: int = 1_048_576
    webhook_replay_hours: float = 24.0
    session_idle_minutes: float = 120.0
    session_max_hours: float = 12.0
    # None: follow public_url (on for https). See `cookies_secure`.
    secure_cookies: bool | None = None
    # -- operating it: readiness, metrics and log lines (web/health.py, metrics.py, logs.py) --
    # /readyz fails when no worker heartbeat is this recent (real seconds; 0: 60 s or three
    # heartbeats, whichever is longer, see `worker_silence_limit`), when an item due for a
    # worker has waited this long unclaimed, or when `SELECT 1` takes longer than this.
    ready_worker_silence_seconds: float = 0.0
    ready_max_wait_minutes: float = 5.0
    ready_database_timeout_seconds: float = 2.0
    # A bearer token /metrics asks for (none: open, like /healthz, for Prometheus on a network
    # the operator trusts); a worker's own /metrics port (0: none) and the address it binds.
    metrics_token: str = ""
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"
    # auto: JSON lines when stderr is not a terminal, human lines when it is; or json, text.
    log_format: str = "auto"

    def cookies_secure(self) -> bool:
        """Whether cookies get the Secure flag and responses HSTS: as set, else whether the
        merchant reaches shopbridge over https (its public_url)."""
        if self.secure_cookies is not None:
            return self.secure_cookies
        return self.public_url.startswith("https://")

    def worker_silence_limit(self) -> float:
        """Seconds without any worker heartbeat after which /readyz fails: as set, else 60 s or
        three heartbeat intervals, whichever is longer (a slow heartbeat is not a dead worker)."""
        if self.ready_worker_silence_seconds > 0:
            return self.ready_worker_silence_seconds
        return max(60.0, 3 * self.worker_heartbeat_seconds)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        from shopbridge.store import default_database_url

        return default_database_url()


def load_settings(config_file: str | None = None, **flags: Any) -> Settings:
    """Settings from defaults, then the config file, then the environment, then flags."""
    settings = Settings()
    path = config_file or os.environ.get("SHOPBRIDGE_CONFIG")
    if path:
        settings = _merge(settings, _read_file(Path(path)), f"config file {path}")
    from_env = {
        f.name: os.environ[f"SHOPBRIDGE_{f.name.upper()}"]
        for f in fields(Settings)
        if f"SHOPBRIDGE_{f.name.upper()}" in os.environ
    }
    settings = _merge(settings, from_env, "the environment")
    return _merge(settings, {k: v for k, v in flags.items() if v is not None}, "the command line")


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
    section = document.get("shopbridge", document)
    if not isinstance(section, dict):
        raise ConfigError(f"config file {path}: [shopbridge] must be a table")
    return section


def _merge(settings: Settings, values: dict[str, Any], source: str) -> Settings:
    types = {f.name: f.type for f in fields(Settings)}
    changes: dict[str, Any] = {}
    for name, raw in values.items():
        if name not in types:
            known = ", ".join(sorted(types))
            raise ConfigError(f"unknown setting {name!r} in {source}; known settings: {known}")
        kind = types[name]
        try:
            changes[name] = (
                int(raw)
                if kind == "int"
                else float(raw)
                if kind == "float"
                else _boolean(raw)
                if kind in ("bool", "bool | None")
                else str(raw)
            )
        except ValueError:
            wanted = {
                "int": "a whole number",
                "float": "a number",
                "bool": "true or false",
                "bool | None": "true or false",
            }.get(str(kind), "text")
            raise ConfigError(f"setting {name} in {source} must be {wanted}, got {raw!r}") from None
    merged = replace(settings, **changes)
    _check(merged, source)
    return merged


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


def _check(settings: Settings, source: str) -> None:
    from shopbridge.clock import ClockSpec

    try:
        ClockSpec.parse(settings.clock)
    except ValueError as error:
        raise ConfigError(f"setting clock in {source}: {error}") from None
    if settings.database_url:
        _check_database_url(settings.database_url, source)
    if settings.worker_heartbeat_seconds <= 0 or settings.worker_concurrency < 1:
        raise ConfigError(
            f"in {source}: worker_heartbeat_seconds must be positive and worker_concurrency "
            "at least 1"
        )
    if settings.shopify_grant not in ("authorization_code", "client_credentials"):
        raise ConfigError(
            f"in {source}: shopify_grant must be authorization_code or client_credentials, "
            f"got {settings.shopify_grant!r}"
        )
    if settings.public_url and not settings.public_url.startswith(("https://", "http://")):
        raise ConfigError(
            f"in {source}: public_url must be an address like https://shopbridge.example.com"
        )
    if settings.session_idle_minutes <= 0 or settings.session_max_hours <= 0:
        raise ConfigError(
            f"in {source}: session_idle_minutes and session_max_hours must be positive"
        )
    if settings.worker_lease_seconds < 2 * settings.worker_heartbeat_seconds:
        raise ConfigError(
            f"in {source}: worker_lease_seconds ({settings.worker_lease_seconds:g}) must be at "
            f"least twice worker_heartbeat_seconds ({settings.worker_heartbeat_seconds:g}), or "
            "a live worker could lose its leases between two heartbeats"
        )
    _check_operations(settings, source)


def _check_operations(settings: Settings, source: str) -> None:
    """The readiness, metrics and log settings (kept apart from the rest: issue 15)."""
    for name in ("ready_max_wait_minutes", "ready_database_timeout_seconds"):
        if getattr(settings, name) <= 0:
            raise ConfigError(
                f"in {source}: {name} must be positive, got {getattr(settings, name):g}"
            )
    silence = settings.ready_worker_silence_seconds
    if silence < 0 or 0 < silence < 2 * settings.worker_heartbeat_seconds:
        raise ConfigError(
            f"in {source}: ready_worker_silence_seconds "
            f"({settings.ready_worker_silence_seconds:g}) must be at least twice "
            f"worker_heartbeat_seconds ({settings.worker_heartbeat_seconds:g}), or a live "
            "worker would make /readyz fail between two heartbeats (0: chosen from them)"
        )
    if not 0 <= settings.metrics_port <= 65535:
        raise ConfigError(f"in {source}: metrics_port must be 0 (off) or a port up to 65535")
    if settings.log_format not in ("auto", "json", "text"):
        raise ConfigError(
            f"in {source}: log_format must be auto, json or text, got {settings.log_format!r}"
        )


def _check_database_url(url: str, source: str) -> None:
    """A database URL that cannot be parsed, or names a database shopbridge does not support,
    is refused when the settings are read: later it would fail deep inside the first query.
    The message never repeats the URL, which may hold a password."""
    import sqlalchemy.exc
    from sqlalchemy.engine import make_url

    from shopbridge.store.db import normalize_url

    try:
        scheme = make_url(url).drivername
    except sqlalchemy.exc.ArgumentError:
        reason = "it is not a URL"
    except ValueError:
        reason = "its port is not a number"
    else:
        try:
            normalize_url(url)
        except ValueError:
            reason = f"shopbridge runs on SQLite or PostgreSQL, not {scheme!r}"
        else:
            return
    raise ConfigError(
        f"setting database_url in {source} cannot be used ({reason}): use sqlite:///PATH or "
        "postgresql://USER:PASSWORD@HOST/DB"
    )
