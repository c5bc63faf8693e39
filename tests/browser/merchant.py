"""What a merchant does in the browser, in the words of the UI's stable markup.

Shared by the browser test modules: the web app served for a live stack, a user made with
`shopbridge user create`, logging in, and reading the orders list.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING

from browser.live import LiveStack
from shopbridge.store import SecretBox
from shopbridge_sandbox.serving import BackgroundServer

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

EMAIL = "merchant@example.com"
PASSWORD = "correct horse battery staple"
HOLDBACK = timedelta(minutes=60)
# The orders list polls its fragment every few seconds (htmx): waits allow two polls.
LIST_REFRESH_TIMEOUT_MS = 12_000
# The installed `shopbridge` command, through this interpreter (the venv's).
SHOPBRIDGE = [sys.executable, "-c", "from shopbridge.cli import main; main()"]


@contextmanager
def served_ui(live: LiveStack) -> Iterator[str]:
    """The merchant web app on the live stack's store and clock; yields its base URL.

    The app's `wake` runs the live worker at once (as `shopbridge serve` wires it), and a
    settings change makes the worker check the connection's settings at once.
    """
    app = live.stack.service.web(wake=live.wake, secret_key="browser-tests")
    with BackgroundServer(app) as server:
        yield server.base_url


def create_user(live: LiveStack, email: str = EMAIL, password: str = PASSWORD) -> None:
    """`shopbridge user create --email E --password-stdin --connection ID`, run as an operator
    runs it (its own process), on the live stack's database."""
    url = live.stack.store.engine.url.render_as_string(hide_password=False)
    # The command opens its own store; a key in the environment keeps it from creating
    # ./var/secret.key in the working tree (users need no connection secrets).
    env = {**os.environ, "SHOPBRIDGE_SECRET_KEY": SecretBox.generate_key()}
    command = [
        *SHOPBRIDGE,
        "user",
        "create",
        "--database-url",
        url,
        "--email",
        email,
        "--password-stdin",
        "--connection",
        str(live.stack.connection_id),
    ]
    done = subprocess.run(
        command, input=password + "\n", capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr


def add_user(live: LiveStack, email: str = EMAIL, password: str = PASSWORD) -> None:
    """The same user made in-process, through the accounts module `user create` calls (a
    second interpreter start per test would cost a second each)."""
    from shopbridge.web.accounts import create_user as create_account

    create_account(live.stack.store, email, password, [live.stack.connection_id])


def log_in(page: Page, base_url: str, email: str = EMAIL, password: str = PASSWORD) -> None:
    """Fill the login form and submit it, as a merchant would."""
    page.goto(f"{base_url}/login")
    page.fill('input[name="email"]', email)
    page.fill('input[name="password"]', password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def order_row(page: Page, order_id: str) -> Locator:
    return page.locator(f'[data-testid="order-row"][data-order-id="{order_id}"]')


def badges(row: Locator) -> list[str]:
    return [text.strip() for text in row.locator('[data-testid="badge"]').all_inner_texts()]


# Text decorations are not inherited but drawn through descendants: look up and down from the link.
_STRUCK_THROUGH_JS = """link => {
    const struck = el => getComputedStyle(el).textDecorationLine.includes("line-through");
    for (let el = link; el; el = el.parentElement) { if (struck(el)) return true; }
    return [...link.querySelectorAll("*")].some(struck);
}"""


def is_struck_through(row: Locator) -> bool:
    """Whether the row's order number is drawn struck through (computed style, not markup)."""
    return bool(row.locator("a").first.evaluate(_STRUCK_THROUGH_JS))


def reload_until(page: Page, ready: Callable[[], bool], timeout: float = 15.0) -> None:
    """Reload the page until `ready()` (a page the merchant refreshes while work finishes)."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"{page.url} never showed the expected change")
        page.wait_for_timeout(200)
        page.reload()
