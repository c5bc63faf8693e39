"""Slow down password guessing without ever locking a merchant out.

Failed logins are counted per (email, client address) and per client address, in the database
(`login_attempts`), so that every web process shares the counts. Within a sliding `window`:

- after `pair_limit` failures for one email from one address, that pair waits;
- after `address_limit` failures from one address (any emails), that address waits.

Nothing is counted per email alone: guesses from elsewhere never stop the merchant's right
password from their own address. An IPv6 client is counted by its /64 network (one host or
household), since a single attacker may hold all of its addresses.

Each attempt is written *before* its password is checked and deleted if the password was right
(the pair's earlier failures go with it). An attempt sees every attempt committed before its
own, so N guesses sent at once cannot all slip under the limit; an attempt that is refused is
deleted again, so refusals do not prolong the wait.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from shopbridge.clock import Clock, clock_span
from shopbridge.store import Store
from shopbridge.store.db import read_transaction, write_transaction
from shopbridge.store.tables import login_attempts

PAIR_LIMIT = 5
ADDRESS_LIMIT = 50
WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class Attempt:
    """One login attempt under way: refused (`retry_after` says how long to wait), or allowed
    and counted as a failure until `LoginThrottle.succeeded` says the password was right."""

    email_key: str
    address: str
    retry_after: timedelta | None = None
    # Whether the address as a whole waits (not only this email from it).
    address_refused: bool = False

    @property
    def refused(self) -> bool:
        return self.retry_after is not None

    def refusal(self) -> str:
        """What the merchant reads: who waits, and for how long in words."""
        assert self.retry_after is not None
        who = "from your network" if self.address_refused else "for this email from your network"
        return f"Too many wrong passwords {who}: try again in {in_words(self.retry_after)}."


def in_words(wait: timedelta) -> str:
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def email_key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def client_address(host: str | None) -> str:
    """What the throttle counts for a client: its IPv4 address, or its IPv6 /64 network."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


class LoginThrottle:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        pair_limit: int = PAIR_LIMIT,
        address_limit: int = ADDRESS_LIMIT,
        window: timedelta = WINDOW,
    ) -> None:
        self.store = store
        self.clock = clock
        self.pair_limit = pair_limit
        self.address_limit = address_limit
        # A guesser lives in real time: on a clock running faster (rehearsals) the window
        # spans as much more clock time, and waits are told in real time.
        self.window = clock_span(clock, window.total_seconds())
        self._factor = clock_span(clock, 1.0).total_seconds()

    def attempt(self, email: str, host: str | None) -> Attempt:
        """Start a login attempt for `email` from client `host`: refused, or counted."""
        key, address = email_key(email), client_address(host)
        now = self.clock.now()
        since = now - self.window
        # Committed before counting: a concurrent attempt that counts after this commit sees it.
        with write_transaction(self.store.engine) as db:
            db.execute(login_attempts.delete().where(login_attempts.c.at <= since))
            attempt_id = int(
                db.execute(
                    login_attempts.insert()
                    .values(email_key=key, ip=address, at=now)
                    .returning(login_attempts.c.id)
                ).scalar_one()
            )
        with read_transaction(self.store.engine) as db:
            others = db.execute(
                sa.select(login_attempts.c.email_key, login_attempts.c.at)
                .where(
                    login_attempts.c.ip == address,
                    login_attempts.c.at > since,
                    login_attempts.c.id != attempt_id,
                )
                .order_by(login_attempts.c.at, login_attempts.c.id)
            ).all()
        pair_wait = self._wait(
            [row.at for row in others if row.email_key == key], now, self.pair_limit
        )
        address_wait = self._wait([row.at for row in others], now, self.address_limit)
        if pair_wait is None and address_wait is None:
            return Attempt(key, address)
        with write_transaction(self.store.engine) as db:
            db.execute(login_attempts.delete().where(login_attempts.c.id == attempt_id))
        waits = [wait for wait in (pair_wait, address_wait) if wait is not None]
        return Attempt(
            key,
            address,
            retry_after=max(waits) / self._factor,
            address_refused=address_wait is not None and address_wait >= max(waits),
        )

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: forget this pair's failures (the address keeps the others)."""
        with write_transaction(self.store.engine) as db:
            db.execute(
                login_attempts.delete().where(
                    login_attempts.c.email_key == attempt.email_key,
                    login_attempts.c.ip == attempt.address,
                )
            )

    def _wait(self, earlier: list[datetime], now: datetime, limit: int) -> timedelta | None:
        """How long until fewer than `limit` of these failures (oldest first) are in the window,
        so that one more attempt may be made; None if one may be made now."""
        if len(earlier) < limit:
            return None
        # The oldest len - limit + 1 must leave the window; earlier[len - limit] goes last.
        return earlier[len(earlier) - limit] + self.window - now
