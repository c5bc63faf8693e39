"""The short rehearsal CI runs: separate processes on PostgreSQL, faults on, kill -9 every few
seconds, every rule checked all along (`shopbridge rehearse`; the full run is a benchmark)."""

from __future__ import annotations

import pytest

from shopbridge_sandbox.rehearsal import Options, Report, rehearse

ORDERS = 200


@pytest.mark.postgres
async def test_short_rehearsal_under_kill_9_breaks_no_rule(postgres_url: str) -> None:
    """Both sandboxes, serve and two workers as processes: 200 orders through every path with
    faults and a kill -9 every ~8 s end with no breach at any moment, no duplicate, nothing
    lost, nothing left for a person, and every order reserved."""
    lines: list[str] = []
    report: Report = await rehearse(
        Options(
            orders=ORDERS,
            workers=2,
            database_url=postgres_url,
            factor=120,
            orders_per_second=5,
            kill_every=8,
            until_unpaid_cancelled=False,
            check_every=1.5,
            seed=7,
        ),
        lines.append,
    )
    print("\n".join(lines))
    assert sum(report.kills.values()) >= 5, "processes were killed along the way"
    assert report.transient == [] and report.final == []
    assert (report.duplicates, report.lost, report.manual) == (0, 0, [])
    assert not any(report.pending.values())
    assert report.orders == ORDERS
    assert report.placed > ORDERS, "buyers placed second orders (combined packages)"
    assert report.never_held == [], "every order TikTok kept was reserved and held"
    assert len(report.reservation_lag) + len(report.cancelled_first) == report.placed
    assert report.ok
