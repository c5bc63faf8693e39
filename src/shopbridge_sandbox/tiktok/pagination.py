"""Token pagination, as in 202309 (offsets are gone, §4.1).

Keyset: a token names the sort key of the last row served, so rows that change between pages
neither repeat nor vanish by shifting. Tokens start with "+/" on purpose: §1.3 says a page_token
holding "+" or "/" is signed raw and sent percent-encoded, and clients should meet that case.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from shopbridge_sandbox.tiktok.errors import bad_parameter

T = TypeVar("T")
SortKey = tuple[int | str, ...]
_MARK = b"\xfb\xff"  # base64 "+/"


def fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def page_size(query: dict[str, str], low: int, high: int, default: int | None) -> int:
    raw = query.get("page_size")
    if raw is None:
        if default is None:
            raise bad_parameter("page_size is required")
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise bad_parameter(f"page_size must be between {low} and {high}, got {raw!r}")
    return int(raw)


def paginate(
    rows: Sequence[T],
    key: Callable[[T], SortKey],
    descending: bool,
    size: int,
    token: str | None,
    query_fingerprint: str,
) -> tuple[list[T], str]:
    """One page of `rows` and the token for the next ("" on the last page)."""
    ordered = sorted(rows, key=key, reverse=descending)
    if token:
        after = _decode(token, query_fingerprint)
        ordered = [r for r in ordered if (key(r) < after if descending else key(r) > after)]
    page = ordered[:size]
    if len(ordered) <= size:
        return page, ""
    return page, _encode(key(page[-1]), query_fingerprint)


def _encode(last: SortKey, query_fingerprint: str) -> str:
    payload = json.dumps([query_fingerprint, *last], separators=(",", ":")).encode()
    return base64.b64encode(_MARK + payload).decode()


def _decode(token: str, query_fingerprint: str) -> SortKey:
    try:
        raw = base64.b64decode(token, validate=True)
        if not raw.startswith(_MARK):
            raise ValueError("not a sandbox page token")
        fp, *last = json.loads(raw[len(_MARK) :])
    except (binascii.Error, ValueError, TypeError) as exc:
        raise bad_parameter("page_token is invalid") from exc
    if fp != query_fingerprint:
        raise bad_parameter("page_token belongs to a different query")
    return tuple(last)
