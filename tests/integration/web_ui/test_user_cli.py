"""`shopbridge user create`: accounts for the merchant UI, made from the command line."""

from __future__ import annotations

import httpx
import pytest
from click.testing import CliRunner, Result

from shopbridge.cli import main
from shopbridge.store import SecretBox
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


def test_short_password_is_refused(db_url: str, world: World) -> None:
    """A password under 8 characters is refused."""
    result = create(db_url, "--email", "eve@example.com", password="short")
    assert result.exit_code == 1
    assert "at least 8 characters" in result.output
