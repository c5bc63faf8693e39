"""The password policy, how the login throttle names a client, and session timeouts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shopbridge.clock import ScaledClock, SystemClock
from shopbridge.config import Settings
from shopbridge.web.passwords import COMMON_PASSWORDS, common_passwords, password_problem
from shopbridge.web.sessions import SessionPolicy
from shopbridge.web.throttle import client_address


def test_the_common_password_list_ships_with_the_package() -> None:
    """The bundled list holds the 10,000 most common passwords, beside the module."""
    assert COMMON_PASSWORDS.name == "common_passwords.txt"
    assert len(common_passwords()) == 10_000
    assert {"123456", "password", "qwertyuiop", "password1234"} <= common_passwords()


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short", "at least 12 characters"),
        ("elevenchars", "at least 12 characters"),
        ("password1234", "most common"),
        ("QwertyUiop123", "most common"),
        ("Tr0ub4dor&3xy", None),
        ("Password1234", "most common"),
        ("qwerty123456", "most common"),
        ("plum rocket fjord lantern", None),
    ],
)
def test_passwords_need_12_characters_and_must_not_be_common(
    password: str, problem: str | None
) -> None:
    """Under 12 characters, or one of the common passwords in any case, is refused with why."""
    found = password_problem(password)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


@pytest.mark.parametrize(
    ("host", "counted_as"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2::5", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        (None, "unknown"),
    ],
)
def test_ipv6_clients_are_counted_by_their_64_network(host: str | None, counted_as: str) -> None:
    """One IPv6 host holds a whole /64: its addresses share one count; IPv4 is per address."""
    assert client_address(host) == counted_as


def test_session_timeouts_are_real_time_on_a_faster_clock() -> None:
    """On a rehearsal's clock running 60 times faster, a 120-minute idle timeout is 120 real
    minutes (120 clock hours), not 2 real minutes; on the wall clock it is 120 minutes."""
    settings = Settings(session_idle_minutes=120, session_max_hours=12)
    scaled = SessionPolicy.from_settings(settings, ScaledClock(60.0))
    assert (scaled.idle, scaled.lifetime) == (timedelta(hours=120), timedelta(hours=720))
    real = SessionPolicy.from_settings(settings, SystemClock())
    assert (real.idle, real.lifetime) == (timedelta(minutes=120), timedelta(hours=12))
