"""The SQL that decides who works on what: claims and lease-guarded finishes.

Kept as plain, named SQL (the procrastinate habit) because correctness under concurrency lives
here. One text serves both databases:

- PostgreSQL: the inner SELECT takes row locks with `FOR UPDATE SKIP LOCKED`, so concurrent
  workers (threads or processes) pick disjoint rows without waiting on each other.
- SQLite: `FOR UPDATE` does not exist; the caller runs the statement inside `BEGIN IMMEDIATE`
  (`db.write_transaction`), which makes whole claims mutually exclusive.

A claim leases rows that are due and not leased (never leased, or the lease expired because the
worker crashed), sets `locked_by`/`locked_until` and counts the attempt. Every finish checks that
the row is still leased by the finishing worker (`locked_by`); a worker whose lease expired is
still allowed to finish if nobody re-claimed the row in the meantime, because the work was then
done exactly once.
"""

from __future__ import annotations

import sqlalchemy as sa

from shopbridge.store.types import UTCDateTime

_SKIP_LOCKED = "FOR UPDATE SKIP LOCKED"

CLAIM_INBOX = """
UPDATE inbox
   SET locked_by = :worker_id,
       locked_until = :lease_until,
       attempts = attempts + 1
 WHERE id IN (
        SELECT id
          FROM inbox
         WHERE status = 'pending'
           AND next_attempt_at <= :now
           AND (locked_until IS NULL OR locked_until < :now)
         ORDER BY next_attempt_at, id
         LIMIT :limit
         {row_lock}
       )
RETURNING id
"""

CLAIM_OUTBOX = """
UPDATE outbox
   SET locked_by = :worker_id,
       locked_until = :lease_until,
       attempts = attempts + 1
 WHERE id IN (
        SELECT id
          FROM outbox
         WHERE status = 'pending'
           AND next_attempt_at <= :now
           AND (locked_until IS NULL OR locked_until < :now)
         ORDER BY priority, next_attempt_at, id
         LIMIT :limit
         {row_lock}
       )
RETURNING id
"""

CLAIM_DEADLINES = """
UPDATE deadlines
   SET locked_by = :worker_id,
       locked_until = :lease_until
 WHERE id IN (
        SELECT id
          FROM deadlines
         WHERE due_at <= :now
           AND (locked_until IS NULL OR locked_until < :now)
         ORDER BY due_at, id
         LIMIT :limit
         {row_lock}
       )
RETURNING id
"""

FINISH_INBOX = """
UPDATE inbox
   SET status = :status, last_error = :error, processed_at = :now,
       locked_by = NULL, locked_until = NULL
 WHERE id = :id AND status = 'pending' AND locked_by = :worker_id
RETURNING id
"""

RETRY_INBOX = """
UPDATE inbox
   SET last_error = :error, next_attempt_at = :next_attempt_at,
       locked_by = NULL, locked_until = NULL
 WHERE id = :id AND status = 'pending' AND locked_by = :worker_id
RETURNING id
"""

COMPLETE_OUTBOX = """
UPDATE outbox
   SET status = 'done', finished_at = :now, locked_by = NULL, locked_until = NULL
 WHERE id = :id AND status = 'pending' AND locked_by = :worker_id
RETURNING id
"""

FAIL_OUTBOX = """
UPDATE outbox
   SET status = 'failed', last_error = :error, finished_at = :now,
       locked_by = NULL, locked_until = NULL
 WHERE id = :id AND status = 'pending' AND locked_by = :worker_id
RETURNING id
"""

RETRY_OUTBOX = """
UPDATE outbox
   SET last_error = :error, next_attempt_at = :next_attempt_at,
       locked_by = NULL, locked_until = NULL
 WHERE id = :id AND status = 'pending' AND locked_by = :worker_id
RETURNING id
"""

# A merchant's Retry: the failed action runs again now; its attempts and last error are kept.
REQUEUE_OUTBOX = """
UPDATE outbox
   SET status = 'pending', next_attempt_at = :now, finished_at = NULL,
       locked_by = NULL, locked_until = NULL
 WHERE id = :id AND status = 'failed'
RETURNING id
"""

FINISH_DEADLINE = """
DELETE FROM deadlines
 WHERE id = :id AND locked_by = :worker_id
RETURNING id
"""

_TIME_PARAMETERS = ("now", "lease_until", "next_attempt_at")


def statement(sql: str, dialect_name: str) -> sa.TextClause:
    """`sql` ready to run on this dialect, with its time parameters bound as aware UTC."""
    row_lock = _SKIP_LOCKED if dialect_name == "postgresql" else ""
    text = sa.text(sql.replace("{row_lock}", row_lock))
    present = [name for name in _TIME_PARAMETERS if f":{name}" in sql]
    return text.bindparams(*(sa.bindparam(name, type_=UTCDateTime()) for name in present))
