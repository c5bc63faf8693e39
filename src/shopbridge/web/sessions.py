"""Server-side sessions: the browser holds a random id, the `sessions` table holds the rest.

A session is a row: the SHA-256 of the id (so that a copy of the table opens nothing), the
user, the CSRF token of every form shown in it, when it started and when it was last seen. It
ends when the merchant logs out, when their password changes (the other sessions only), when it
has been idle for `idle`, or `lifetime` after it started, whichever comes first. Ended and
expired rows are deleted: expired ones when met, and all of them at each new login.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from shopbridge.clock import Clock, clock_span
from shopbridge.config import Settings
from shopbridge.store import Store
from shopbridge.store.db import read_transaction, write_transaction
from shopbridge.store.tables import sessions

# last_seen_at is written at most this often per session: a page polled every few seconds does
# not write on every poll; the idle timeout is therefore exact to within this much.
TOUCH_EVERY = timedelta(minutes=1)
USER_AGENT_LENGTH = 300
ADDRESS_LENGTH = 64


@dataclass(frozen=True)
class SessionPolicy:
    """When sessions end, in the service clock's time."""

    idle: timedelta = timedelta(minutes=120)
    lifetime: timedelta = timedelta(hours=12)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock) -> SessionPolicy:
        # The timeouts are about a person at a keyboard, who lives in real time: on a clock
        # running faster (rehearsals) they span as much more clock time, like worker leases.
        return cls(
            idle=clock_span(clock, settings.session_idle_minutes * 60),
            lifetime=clock_span(clock, settings.session_max_hours * 3600),
        )

    def expired(self, created_at: datetime, last_seen_at: datetime, now: datetime) -> bool:
        return now - last_seen_at >= self.idle or now - created_at >= self.lifetime


@dataclass(frozen=True)
class ServerSession:
    id: int
    user_id: int
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime


def _token_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start(
    store: Store,
    user_id: int,
    policy: SessionPolicy,
    now: datetime,
    *,
    user_agent: str | None = None,
    ip: str | None = None,
) -> tuple[str, ServerSession]:
    """A new session for this user: the id for the cookie, and the session. Expired sessions
    of every user are deleted on the way."""
    session_id = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with write_transaction(store.engine) as db:
        db.execute(
            sessions.delete().where(
                sa.or_(
                    sessions.c.last_seen_at <= now - policy.idle,
                    sessions.c.created_at <= now - policy.lifetime,
                )
            )
        )
        row_id = db.execute(
            sessions.insert()
            .values(
                token_hash=_token_hash(session_id),
                user_id=user_id,
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
                user_agent=user_agent[:USER_AGENT_LENGTH] if user_agent else None,
                ip=ip[:ADDRESS_LENGTH] if ip else None,
            )
            .returning(sessions.c.id)
        ).scalar_one()
    return session_id, ServerSession(int(row_id), user_id, csrf, now, now)


def find(
    store: Store, session_id: str, policy: SessionPolicy, now: datetime
) -> ServerSession | None:
    """The live session with this id, marked as seen `now`; None if it ended or never was (an
    expired one is deleted)."""
    token_hash = _token_hash(session_id)
    with read_transaction(store.engine) as db:
        row = db.execute(
            sa.select(
                sessions.c.id,
                sessions.c.user_id,
                sessions.c.csrf_token,
                sessions.c.created_at,
                sessions.c.last_seen_at,
            ).where(sessions.c.token_hash == token_hash)
        ).first()
    if row is None:
        return None
    if policy.expired(row.created_at, row.last_seen_at, now):
        with write_transaction(store.engine) as db:
            db.execute(sessions.delete().where(sessions.c.id == row.id))
        return None
    last_seen_at = row.last_seen_at
    if now - last_seen_at >= TOUCH_EVERY:
        last_seen_at = now
        with write_transaction(store.engine) as db:
            db.execute(sessions.update().where(sessions.c.id == row.id).values(last_seen_at=now))
    return ServerSession(
        int(row.id), int(row.user_id), row.csrf_token, row.created_at, last_seen_at
    )


def end(store: Store, session_id: str) -> None:
    """Log this session out: its cookie opens nothing any more."""
    with write_transaction(store.engine) as db:
        db.execute(sessions.delete().where(sessions.c.token_hash == _token_hash(session_id)))


def end_sessions_of(db: sa.Connection, user_id: int, *, keep: int | None = None) -> int:
    """End every session of this user but `keep` (within the caller's transaction); how many."""
    query = sessions.delete().where(sessions.c.user_id == user_id)
    if keep is not None:
        query = query.where(sessions.c.id != keep)
    return db.execute(query).rowcount


def count_of(store: Store, user_id: int) -> int:
    """How many sessions this user has open (expired ones not yet deleted included)."""
    with read_transaction(store.engine) as db:
        return int(
            db.execute(
                sa.select(sa.func.count())
                .select_from(sessions)
                .where(sessions.c.user_id == user_id)
            ).scalar_one()
        )
