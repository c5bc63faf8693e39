"""`shopbridge user create` and `user password`: merchant UI accounts from the command line."""

from __future__ import annotations

import httpx
import pytest
from click.testing import CliRunner, Result

from shopbridge.cli import main
from shopbridge.store import SecretBox
from shopbridge.web.accounts import User
from support.world import World

from .conftest import PASSWORD, login


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without it the CLI would create ./var/secret.key in the working tree.
    monkeypatch.setenv("SHOPBRIDGE_SECRET_KEY", SecretBox.generate_key())


def create(db_url: str, *args: str, password: str = PASSWORD) -> Result:
    return CliRunner().invoke(
        main,
        ["user", "create", "--database-url", db_url, "--password-stdin", *args],
        input=password + "\n",
    )


def test_created_user_can_log_in_and_sees_their_connection(
    db_url: str, world: World, client: httpx.Client
) -> None:
    """A user made with --password-stdin and --connection logs in and sees that shop's orders."""
    result = create(db_url, "--email", "Eve@Example.com", "--connection", str(world.connection_id))
    assert result.exit_code == 0, result.output
    assert "eve@example.com created" in result.output
    login(client, "eve@example.com")
    page = client.get("/")
    assert page.url.path == f"/connections/{world.connection_id}/orders"


def test_unknown_connection_is_refused(db_url: str, world: World) -> None:
    """A --connection that does not exist fails with a message and creates no user."""
    result = create(db_url, "--email", "eve@example.com", "--connection", "999999")
    assert result.exit_code == 1
    assert "no connection 999999" in result.output
    again = create(db_url, "--email", "eve@example.com")
    assert again.exit_code == 0, again.output


def test_duplicate_email_is_refused(db_url: str, world: World) -> None:
    """A second user with the same email (any case) is refused."""
    assert create(db_url, "--email", "eve@example.com").exit_code == 0
    result = create(db_url, "--email", "EVE@example.com")
    assert result.exit_code == 1
    assert "exists already" in result.output


@pytest.mark.parametrize(
    ("password", "why"),
    [("eleven char", "at least 12 characters"), ("password1234", "most common")],
)
def test_short_or_common_password_is_refused(
    db_url: str, world: World, password: str, why: str
) -> None:
    """A password under 12 characters, or a common one, is refused and creates no user."""
    result = create(db_url, "--email", "eve@example.com", password=password)
    assert result.exit_code == 1
    assert why in result.output
    assert create(db_url, "--email", "eve@example.com").exit_code == 0


def set_password(db_url: str, email: str, password: str) -> Result:
    return CliRunner().invoke(
        main,
        ["user", "password", "--database-url", db_url, "--email", email, "--password-stdin"],
        input=password + "\n",
    )


def test_user_password_sets_a_new_one_and_ends_every_session(
    db_url: str, merchant: User, world: World, client: httpx.Client
) -> None:
    """`shopbridge user password` replaces a forgotten password and signs the user out
    everywhere; only the new password logs in."""
    login(client, merchant.email)
    result = set_password(db_url, "ANN@example.com", "plum rocket fjord lantern")
    assert result.exit_code == 0, result.output
    assert "ann@example.com set" in result.output
    orders = f"/connections/{world.connection_id}/orders"
    assert client.get(orders, follow_redirects=False).headers["location"].startswith("/login")
    login(client, merchant.email, "plum rocket fjord lantern")


@pytest.mark.parametrize(
    ("email", "password", "why"),
    [
        ("ann@example.com", "short one", "at least 12 characters"),
        ("ann@example.com", "qwerty123456", "most common"),
        ("nobody@example.com", "plum rocket fjord lantern", "there is no user nobody@example.com"),
    ],
)
def test_user_password_refuses_a_weak_password_or_unknown_user(
    db_url: str, merchant: User, email: str, password: str, why: str
) -> None:
    """A short or common new password, or an unknown email, changes nothing and says why."""
    result = set_password(db_url, email, password)
    assert result.exit_code == 1
    assert why in result.output
