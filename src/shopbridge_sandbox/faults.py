"""Fault knobs shared by both sandboxes.

Rates are probabilities in [0, 1]. A sandbox asks `api_fault()` on each API request
and `webhook_plan()` for each webhook it is about to push; the answers are drawn
from one seeded random generator so a failing run can be replayed.

API faults, in the order they are rolled: `api_error_rate` (5xx, nothing done),
`api_429_rate` (throttled, nothing done), `api_timeout_rate` (done, answered
`api_timeout_seconds` late), `api_lost_answer_rate` (done, answered HTTP 502). Apart from
those, `api_latency_seconds` makes every answer that late (a slow platform).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field, fields
from datetime import timedelta
from enum import StrEnum
from typing import Any


class ApiFault(StrEnum):
    SERVER_ERROR = "5xx"
    RATE_LIMITED = "429"
    TIMEOUT = "timeout"
    # The platform committed the change, then the answer was lost on the way back (a proxy's
    # 502): the client sees a failure for a write that happened.
    LOST_ANSWER = "lost_answer"


@dataclass
class FaultSettings:
    """What can go wrong, and how often."""

    webhook_drop_rate: float = 0.0
    webhook_duplicate_rate: float = 0.0
    webhook_delay_rate: float = 0.0
    webhook_delay_seconds: float = 30.0
    webhook_reorder_rate: float = 0.0
    webhooks_enabled: bool = True
    api_error_rate: float = 0.0
    api_429_rate: float = 0.0
    api_timeout_rate: float = 0.0
    api_timeout_seconds: float = 15.0
    api_lost_answer_rate: float = 0.0
    # Every API answer this many real seconds late (after the work is done): a slow platform.
    api_latency_seconds: float = 0.0

    def update(self, changes: dict[str, Any]) -> None:
        known = {f.name: f.type for f in fields(self)}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown fault knob {name!r}; known: {', '.join(sorted(known))}")
            if name == "webhooks_enabled":
                setattr(self, name, bool(value))
                continue
            number = float(value)
            if name.endswith("_rate") and not 0.0 <= number <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
            if number < 0:
                raise ValueError(f"{name} must not be negative, got {value!r}")
            setattr(self, name, number)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class WebhookPlan:
    """How one webhook will (mis)behave: copies to send, and extra delay on each."""

    copies: int
    delay: timedelta


@dataclass
class Faults:
    settings: FaultSettings = field(default_factory=FaultSettings)
    seed: int = 0
    _random: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def _roll(self, rate: float) -> bool:
        return rate > 0 and self._random.random() < rate

    def api_fault(self) -> ApiFault | None:
        """The fault to inject into the current API request, if any."""
        s = self.settings
        with self._lock:
            if self._roll(s.api_error_rate):
                return ApiFault.SERVER_ERROR
            if self._roll(s.api_429_rate):
                return ApiFault.RATE_LIMITED
            if self._roll(s.api_timeout_rate):
                return ApiFault.TIMEOUT
            if self._roll(s.api_lost_answer_rate):
                return ApiFault.LOST_ANSWER
        return None

    def webhook_plan(self) -> WebhookPlan:
        """Dropped (0 copies), duplicated (2), delayed or reordered (held back a while)."""
        s = self.settings
        with self._lock:
            if not s.webhooks_enabled or self._roll(s.webhook_drop_rate):
                return WebhookPlan(copies=0, delay=timedelta(0))
            copies = 2 if self._roll(s.webhook_duplicate_rate) else 1
            delay = timedelta(0)
            if self._roll(s.webhook_delay_rate):
                delay += timedelta(seconds=s.webhook_delay_seconds)
            if self._roll(s.webhook_reorder_rate):
                # Held back long enough that the next notification overtakes it.
                delay += timedelta(seconds=self._random.uniform(1.0, 10.0))
            return WebhookPlan(copies=copies, delay=delay)
