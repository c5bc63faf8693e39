"""Identifiers shaped like TikTok's: 64-bit decimal strings, tokens, ciphers (§2.3, §3.2)."""

from __future__ import annotations

import base64
import random
import string
import threading


class IdFactory:
    """Seeded, so that a replayed run hands out the same ids; safe across threads."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(f"tiktok-sandbox-ids:{seed}")
        self._lock = threading.Lock()

    def numeric(self, prefix: str, length: int = 19) -> str:
        """`prefix` followed by random digits; TikTok order ids have 18 digits, most others 19."""
        with self._lock:
            tail = "".join(self._random.choices(string.digits, k=length - len(prefix)))
        return prefix + tail

    def token(self, prefix: str, length: int = 40) -> str:
        alphabet = string.ascii_letters + string.digits
        with self._lock:
            return prefix + "".join(self._random.choices(alphabet, k=length))

    def cipher(self) -> str:
        # Real ciphers look like "GCP_XF90igAAAABh00qsWgtvOiGFNqyubMt3"; only opaqueness matters.
        with self._lock:
            raw = self._random.randbytes(24)
        return "GCP_" + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def hex(self, length: int = 32) -> str:
        with self._lock:
            return self._random.randbytes(length // 2).hex()
