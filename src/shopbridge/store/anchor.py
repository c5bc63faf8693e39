"""The scaled clock's anchor, kept in the database so that every process on it tells one time.

`serve` and every `worker` of a rehearsal are separate processes started at different moments;
the first to start with `--clock scaled:FACTOR` stores the wall-clock moment it started, and the
others (restarted ones too) read it back, so they all compute the same simulated time.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import sqlalchemy as sa

from shopbridge.clock import Clock, ClockSpec, ScaledClock, SystemClock
from shopbridge.store.db import read_transaction, write_transaction
from shopbridge.store.sql import insert_ignoring_conflict
from shopbridge.store.tables import clock_anchor


class ClockMismatch(ValueError):
    """This process's clock would disagree with the one the database already runs on."""


def anchored_clock(engine: sa.Engine, spec: ClockSpec) -> Clock:
    """The clock `spec` names; a scaled one is anchored in (or read from) the database."""
    if not spec.scaled:
        stored = stored_anchor(engine)
        if stored is not None:
            factor, epoch = stored
            raise ClockMismatch(
                f"this database runs on a scaled clock ({factor:g}x, anchored at "
                f"{datetime.fromtimestamp(epoch, UTC):%Y-%m-%d %H:%M:%S} UTC): it belongs to a "
                f"rehearsal or demo. Start with --clock scaled:{factor:g}, or use another database."
            )
        return SystemClock()
    with write_transaction(engine) as db:
        db.execute(
            insert_ignoring_conflict(db, clock_anchor, ["id"]).values(
                id=1,
                factor=spec.factor,
                epoch=spec.epoch if spec.epoch is not None else time.time(),
                created_at=datetime.now(UTC),
            )
        )
        row = db.execute(sa.select(clock_anchor.c.factor, clock_anchor.c.epoch)).one()
    if row.factor != spec.factor or (spec.epoch is not None and row.epoch != spec.epoch):
        raise ClockMismatch(
            f"this database's clock is scaled:{row.factor:g}@{row.epoch!r}; this process asked "
            f"for scaled:{spec.factor:g}{'' if spec.epoch is None else f'@{spec.epoch!r}'}"
        )
    return ScaledClock(row.factor, row.epoch)


def stored_anchor(engine: sa.Engine) -> tuple[float, float] | None:
    """(factor, epoch) of the database's scaled clock, if it has one."""
    with read_transaction(engine) as db:
        row = db.execute(sa.select(clock_anchor.c.factor, clock_anchor.c.epoch)).first()
    return None if row is None else (float(row.factor), float(row.epoch))
