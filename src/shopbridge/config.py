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
| worker_batch_size | SHOPBRIDGE_WORKER_BATCH_SIZE | 10 |
| worker_lease_seconds | SHOPBRIDGE_WORKER_LEASE_SECONDS | 120 |
| worker_idle_seconds | SHOPBRIDGE_WORKER_IDLE_SECONDS | 0.2 |
| max_attempts | SHOPBRIDGE_MAX_ATTEMPTS | 8 |
| reconcile_minutes | SHOPBRIDGE_RECONCILE_MINUTES | 5 |

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
    worker_batch_size: int = 10
    worker_lease_seconds: float = 120.0
    worker_idle_seconds: float = 0.2
    max_attempts: int = 8
    reconcile_minutes: float = 5.0

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
                int(raw) if kind == "int" else float(raw) if kind == "float" else str(raw)
            )
        except ValueError:
            wanted = {"int": "a whole number", "float": "a number"}.get(str(kind), "text")
            raise ConfigError(f"setting {name} in {source} must be {wanted}, got {raw!r}") from None
    return replace(settings, **changes)
