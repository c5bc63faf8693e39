"""Text from outside made safe to store on either database, whatever it contains.

A verified webhook may still carry anything: lone surrogates (`"\\ud800"`), NUL characters
(PostgreSQL's text and JSONB refuse both), values far longer than any column. Stored text goes
through `clean`, keys through `key`, so a delivery is stored (or refused with a 4xx) and never
turns into a database error and a 500.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

MAX_HEADERS = 100


def clean(text: object, limit: int) -> str:
    """`text` as valid UTF-8 without NUL characters, cut to `limit` characters."""
    value = text if isinstance(text, str) else str(text)
    value = value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
    return value if len(value) <= limit else value[: max(0, limit - 1)] + "…"


def key(text: str, limit: int) -> str:
    """A unique key that fits `limit`: the text itself when it is clean and short enough, else
    a hash of it (two different texts never share a key)."""
    if len(text) <= limit and clean(text, limit) == text:
        return text
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def headers(values: Mapping[str, str]) -> dict[str, str]:
    """Request headers as storable JSON: cleaned names and values, at most MAX_HEADERS."""
    kept = list(values.items())[:MAX_HEADERS]
    return {clean(name, 200): clean(value, 2000) for name, value in kept}
