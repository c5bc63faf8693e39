"""The SQL that decides who works on what: claims, fences and lease-guarded finishes.

Kept as plain, named SQL (the procrastinate habit) because correctness under concurrency lives
here. One text serves both databases:

- PostgreSQL: the CTE takes row locks with `FOR UPDATE SKIP LOCKED`, so concurrent workers
  (threads or processes) pick disjoint rows without waiting on each other. The CTE is
  MATERIALIZED so it runs exactly once: written as `WHERE id IN (SELECT .. LIMIT n SKIP LOCKED)`
  the planner may rescan the sub-select, and each rescan skips the rows the last one locked,
  so one claim of n could lease more than n rows (seen in a test run, claim of 1 returning 2).
- SQLite: `FOR UPDATE` does not exist; the caller runs the statement inside `BEGIN IMMEDIATE`
  (`db.write_transaction`), which makes whole claims mutually exclusive.

A claim leases rows that are due and not leased (never leased, or the lease ran out), sets
`locked_by`/`locked_until` and counts the attempt. The pair (`locked_by`, `attempts`) is the
claim's **fence**: every later write about the item (renewing the lease, saving progress,
finishing) names both, so a worker that lost its claim (its lease ran out and another worker
re-claimed the row, or a sibling reaped it as dead) can change nothing any more, while a worker
whose lease ran out but that nobody re-claimed may still finish: the work was done exactly once.
"""

from __future__ import annotations

import functools

import sqlalchemy as sa

from shopbridge.store.types import UTCDateTime

_SKIP_LOCKED = "FOR UPDATE SKIP LOCKED"
# Connections whose remote work waits (needs_reconnect, paused, still setting up).
_HELD_CONNECTIONS = "SELECT id FROM connections WHERE status <> 'active'"

CLAIM_INBOX = """
WITH picked AS {materialized} (
    SELECT id
      FROM inbox
     WHERE status = 'pending'
       AND next_attempt_at <= :now
       AND (locked_until IS NULL OR locked_until < :now)
       AND (connection_id IS NULL OR connection_id NOT IN ({held_connections}))
     ORDER BY next_attempt_at, id
     LIMIT :limit
     {row_lock}
)
UPDATE inbox
   SET locked_by = :worker_id,
       locked_until = :lease_until,
       attempts = attempts + 1
 WHERE id IN (SELECT id FROM picked)
RETURNING id
"""

CLAIM_OUTBOX = """
WITH picked AS {materialized} (
    SELECT id
      FROM outbox
     WHERE status = 'pending'
       AND next_attempt_at <= :now
       AND (locked_until IS NULL OR locked_until < :now)
       AND connection_id NOT IN ({held_connections})
       AND priority <= :max_priority
     ORDER BY priority, next_attempt_at, id
     LIMIT :limit
     {row_lock}
)
UPDATE outbox
   SET locked_by = :worker_id,
       locked_until = :lease_until,
       attempts = attempts + 1
 WHERE id IN (SELECT id FROM picked)
RETURNING id
"""

CLAIM_DEADLINES = """
WITH picked AS {materialized} (
    SELECT id
      FROM deadlines
     WHERE due_at <= :now
       AND failed_at IS NULL
       AND (not_before IS NULL OR not_before <= :now)
       AND (locked_until IS NULL OR locked_until < :now)
     ORDER BY due_at, id
     LIMIT :limit
     {row_lock}
)
UPDATE deadlines
   SET locked_by = :worker_id,
       locked_until = :lease_until,
       attempts = attempts + 1
 WHERE id IN (SELECT id FROM picked)
RETURNING id
"""

# A SKU whose TikTok stock must follow Shopify (engine/stock.py). The claim also remembers how
# many changes it covers: one that arrives during the push makes the row due again afterwards.
CLAIM_STOCK = """
WITH picked AS {materialized} (
    SELECT id
      FROM stock_skus
     WHERE due_at <= :now
       AND (locked_until IS NULL OR locked_until < :now)
       AND connection_id NOT IN ({held_connections})
       AND (:connection_id = 0 OR connection_id = :connection_id)
     ORDER BY due_at, id
     LIMIT :limit
     {row_lock}
)
UPDATE stock_skus
   SET locked_by = :worker_id,
       locked_until = :lease_until,
       attempts = attempts + 1,
       claimed_changes = changes
 WHERE id IN (SELECT id FROM picked)
RETURNING id
"""

FINISH_INBOX = """
UPDATE inbox
   SET status = :status, last_error = :error, processed_at = :now,
       locked_by = NULL, locked_until = NULL
 WHERE id = :id AND status = 'pending' AND locked_by = :worker_id AND attempts = :fence
RETURNING id
"""

# Work about a connection that lost a platform's access waits for the merchant to reconnect:
# put back unleased with fresh attempts (claims skip it while the connection is not active).
HOLD_INBOX = """
UPDATE inbox
   SET last_error = :error, next_attempt_at = :now, attempts = 0,
       locked_by = NULL, locked_until = NULL
 WHERE id = :id AND status = 'pending' AND locked_by = :worker_id AND attempts = :fence
RETURNING id
"""

HOLD_OUTBOX = """
UPDATE outbox
   SET last_error = :error, next_attempt_at = :now, attempts = 0,
       locked_by = NULL, locked_until = NULL
 WHERE id = :id AND status = 'pending' AND locked_by = :worker_id AND attempts = :fence
RETURNING id
"""

RETRY_INBOX = """
UPDATE inbox
   SET last_error = :error, next_attempt_at = :next_attempt_at,
       locked_by = NULL, locked_until = NULL
 WHERE id = :id AND status = 'pending' AND locked_by = :worker_id AND attempts = :fence
RETURNING id
"""

COMPLETE_OUTBOX = """
UPDATE outbox
   SET status = 'done', finished_at = :now, locked_by = NULL, locked_until = NULL
 WHERE id = :id AND status = 'pending' AND locked_by = :worker_id AND attempts = :fence
RETURNING id
"""

FAIL_OUTBOX = """
UPDATE outbox
   SET status = 'failed', last_error = :error, finished_at = :now,
       locked_by = NULL, locked_until = NULL
 WHERE id = :id AND status = 'pending' AND locked_by = :worker_id AND attempts = :fence
RETURNING id
"""

RETRY_OUTBOX = """
UPDATE outbox
   SET last_error = :error, next_attempt_at = :next_attempt_at,
       locked_by = NULL, locked_until = NULL
 WHERE id = :id AND status = 'pending' AND locked_by = :worker_id AND attempts = :fence
RETURNING id
"""

# What a resumable action did so far; saving it also renews the lease (the holder is alive).
SAVE_PROGRESS = """
UPDATE outbox
   SET progress = :progress, locked_until = :lease_until
 WHERE id = :id AND status = 'pending' AND locked_by = :worker_id AND attempts = :fence
RETURNING id
"""

FINISH_DEADLINE = """
DELETE FROM deadlines
 WHERE id = :id AND locked_by = :worker_id AND attempts = :fence
RETURNING id
"""

RETRY_DEADLINE = """
UPDATE deadlines
   SET last_error = :error, not_before = :next_attempt_at,
       locked_by = NULL, locked_until = NULL
 WHERE id = :id AND locked_by = :worker_id AND attempts = :fence
RETURNING id
"""

FAIL_DEADLINE = """
UPDATE deadlines
   SET last_error = :error, failed_at = :now, locked_by = NULL, locked_until = NULL
 WHERE id = :id AND locked_by = :worker_id AND attempts = :fence
RETURNING id
"""

# A merchant's Retry: a failed item runs again now with a fresh set of attempts. Resetting
# `attempts` keeps the fence safe: a failed row has no holder, so no old claim can match it.
REQUEUE_OUTBOX = """
UPDATE outbox
   SET status = 'pending', next_attempt_at = :now, finished_at = NULL, attempts = 0,
       locked_by = NULL, locked_until = NULL
 WHERE id = :id AND status = 'failed'
RETURNING id
"""

REQUEUE_INBOX = """
UPDATE inbox
   SET status = 'pending', next_attempt_at = :now, processed_at = NULL, attempts = 0,
       locked_by = NULL, locked_until = NULL
 WHERE id = :id AND status = 'failed'
RETURNING id
"""

REQUEUE_DEADLINE = """
UPDATE deadlines
   SET failed_at = NULL, not_before = NULL, attempts = 0, locked_by = NULL, locked_until = NULL
 WHERE id = :id AND failed_at IS NOT NULL
RETURNING id
"""

_TIME_PARAMETERS = ("now", "lease_until", "next_attempt_at")


# Claims of outbox work of every priority (see `Store.claim_outbox`).
ANY_PRIORITY = 2**31 - 1


@functools.cache
def statement(sql: str, dialect_name: str) -> sa.TextClause:
    """`sql` ready to run on this dialect, with its time parameters bound as aware UTC.

    Built once per (text, dialect) and kept: a statement object that is reused keeps its
    SQLAlchemy cache key, so each call skips building, keying and compiling it (about a third
    of a worker's CPU went there when every call built its statement anew). The texts are the
    module's constants, so the cache holds a few dozen entries at most."""
    postgres = dialect_name == "postgresql"
    rendered = (
        sql.replace("{row_lock}", _SKIP_LOCKED if postgres else "")
        .replace("{materialized}", "MATERIALIZED" if postgres else "")
        .replace("{held_connections}", _HELD_CONNECTIONS)
    )
    text = sa.text(rendered)
    present = [name for name in _TIME_PARAMETERS if f":{name}" in sql]
    return text.bindparams(*(sa.bindparam(name, type_=UTCDateTime()) for name in present))
