"""Durable state: tables, migrations, claim queries and units of work, on SQLite or PostgreSQL."""

from shopbridge.store.db import (
    create_db_engine,
    default_database_url,
    normalize_url,
    upgrade_database,
)
from shopbridge.store.records import (
    ConnectionRecord,
    DeadlineItem,
    Fence,
    InboxItem,
    LeaseLost,
    MirrorRow,
    NotFound,
    OutboxItem,
    TimelineEntry,
    WorkerRecord,
    WorkKind,
)
from shopbridge.store.secrets import SecretBox
from shopbridge.store.store import Store
from shopbridge.store.unit import ConnectionUnit, OrderUnit

__all__ = [
    "ConnectionRecord",
    "ConnectionUnit",
    "DeadlineItem",
    "Fence",
    "InboxItem",
    "LeaseLost",
    "MirrorRow",
    "NotFound",
    "OrderUnit",
    "OutboxItem",
    "SecretBox",
    "Store",
    "TimelineEntry",
    "WorkKind",
    "WorkerRecord",
    "create_db_engine",
    "default_database_url",
    "normalize_url",
    "upgrade_database",
]
