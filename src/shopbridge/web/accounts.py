"""Merchant accounts: users with argon2-hashed passwords, and the connections each may see.

The `users` and `memberships` tables belong to the store's schema; this module is their only
reader and writer. A user sees a connection only through a membership row. Every password set
here passes the policy of `passwords.py`; changing one ends the user's other sessions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from shopbridge.store import Store
from shopbridge.store.db import read_transaction, write_transaction
from shopbridge.store.tables import connections, memberships, users
from shopbridge.web import sessions
from shopbridge.web.passwords import password_problem

# argon2-cffi's defaults (RFC 9106 low-memory profile). Tests swap in a cheaper hasher; a hash
# keeps its own parameters, so hashes made with other parameters still verify (and are rehashed
# at the next login).
PASSWORD_HASHER = PasswordHasher()


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    # Verifying against this when the email is unknown costs the same as a real check, so the
    # response time does not tell an attacker which emails exist.
    return hasher.hash("not a real password")


class AccountError(ValueError):
    """A user could not be created as asked (the message says why)."""


@dataclass(frozen=True)
class User:
    id: int
    email: str


def normalize_email(email: str) -> str:
    return email.strip().lower()


def create_user(
    store: Store, email: str, password: str, connection_ids: Iterable[int] = ()
) -> User:
    """A new user who may see `connection_ids`; AccountError on a bad email, password or id."""
    email = normalize_email(email)
    if "@" not in email or len(email) > 320:
        raise AccountError(f"{email!r} is not an email address")
    check_password(password)
    wanted = sorted(set(connection_ids))
    password_hash = PASSWORD_HASHER.hash(password)
    with write_transaction(store.engine) as db:
        if db.execute(sa.select(users.c.id).where(users.c.email == email)).first():
            raise AccountError(f"a user {email} exists already")
        known = set(
            db.execute(sa.select(connections.c.id).where(connections.c.id.in_(wanted))).scalars()
        )
        missing = [cid for cid in wanted if cid not in known]
        if missing:
            raise AccountError(f"no connection {', '.join(map(str, missing))}")
        user_id = db.execute(
            users.insert()
            .values(email=email, password_hash=password_hash, created_at=store.clock.now())
            .returning(users.c.id)
        ).scalar_one()
        for cid in wanted:
            db.execute(memberships.insert().values(user_id=user_id, connection_id=cid))
    return User(int(user_id), email)


def check_password(password: str) -> None:
    """AccountError saying why, if this password may not be used."""
    problem = password_problem(password)
    if problem is not None:
        raise AccountError(problem)


def change_password(
    store: Store, user_id: int, current: str, new: str, *, keep_session: int | None
) -> int:
    """Replace the user's password, given the current one, and end every session of theirs but
    `keep_session`; how many were ended. AccountError if `new` may not be used or `current` is
    wrong."""
    check_password(new)
    with read_transaction(store.engine) as db:
        stored = db.execute(
            sa.select(users.c.password_hash).where(users.c.id == user_id)
        ).scalar_one_or_none()
    if stored is None or not _verifies(stored, current):
        raise AccountError("the current password is not right")
    return _set_password(store, user_id, new, keep_session=keep_session)


def reset_password(store: Store, email: str, new: str) -> User:
    """Give the user with this email a new password (an operator's reset, no current password
    needed) and end all of their sessions. AccountError if there is no such user or `new` may
    not be used."""
    check_password(new)
    email = normalize_email(email)
    with read_transaction(store.engine) as db:
        user_id = db.execute(sa.select(users.c.id).where(users.c.email == email)).scalar()
    if user_id is None:
        raise AccountError(f"there is no user {email}")
    _set_password(store, int(user_id), new, keep_session=None)
    return User(int(user_id), email)


def _set_password(store: Store, user_id: int, new: str, *, keep_session: int | None) -> int:
    password_hash = PASSWORD_HASHER.hash(new)
    # One transaction: no session opened with the old password outlives the change.
    with write_transaction(store.engine) as db:
        db.execute(users.update().where(users.c.id == user_id).values(password_hash=password_hash))
        return sessions.end_sessions_of(db, user_id, keep=keep_session)


def _verifies(password_hash: str, password: str) -> bool:
    try:
        return PASSWORD_HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def has_users(store: Store) -> bool:
    with read_transaction(store.engine) as db:
        return db.execute(sa.select(users.c.id).limit(1)).first() is not None


def grant(store: Store, user_id: int, connection_id: int) -> None:
    """Let a user see one more connection (idempotent)."""
    with write_transaction(store.engine) as db:
        exists = db.execute(
            sa.select(memberships.c.id).where(
                memberships.c.user_id == user_id, memberships.c.connection_id == connection_id
            )
        ).first()
        if exists is None:
            db.execute(memberships.insert().values(user_id=user_id, connection_id=connection_id))


def authenticate(store: Store, email: str, password: str) -> User | None:
    """The user with this email and password, or None (same cost whether or not it exists)."""
    with read_transaction(store.engine) as db:
        row = db.execute(
            sa.select(users.c.id, users.c.email, users.c.password_hash).where(
                users.c.email == normalize_email(email)
            )
        ).first()
    hasher = PASSWORD_HASHER
    try:
        hasher.verify(_dummy_hash(hasher) if row is None else row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if hasher.check_needs_rehash(row.password_hash):
        with write_transaction(store.engine) as db:
            db.execute(
                users.update()
                .where(users.c.id == row.id)
                .values(password_hash=hasher.hash(password))
            )
    return User(int(row.id), row.email)


def get_user(store: Store, user_id: int) -> User | None:
    with read_transaction(store.engine) as db:
        row = db.execute(sa.select(users.c.id, users.c.email).where(users.c.id == user_id)).first()
    return None if row is None else User(int(row.id), row.email)


def connection_ids_of(store: Store, user_id: int) -> list[int]:
    """The connections this user belongs to, in id order."""
    with read_transaction(store.engine) as db:
        return [
            int(cid)
            for cid in db.execute(
                sa.select(memberships.c.connection_id)
                .where(memberships.c.user_id == user_id)
                .order_by(memberships.c.connection_id)
            ).scalars()
        ]
