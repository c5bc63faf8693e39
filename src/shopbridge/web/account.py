"""The merchant's own account: change the password, which signs out every other session.

Checking the current password counts as a login attempt for the throttle (`throttle.py`), so a
stolen session cannot be used to guess it faster than the login page allows.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from shopbridge.web import accounts, sessions
from shopbridge.web.auth import (
    checked_form,
    client_host,
    flash,
    login_required,
    refused,
    server_session,
)
from shopbridge.web.context import render, ui


async def _page(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    signed_in = server_session(request)
    assert signed_in is not None  # every route here is login_required
    open_sessions = await run_in_threadpool(sessions.count_of, ui(request).store, signed_in.user_id)
    context: dict[str, Any] = {
        "error": error,
        "other_sessions": max(0, open_sessions - 1),
        "active": "account",
    }
    return render(request, "account.html", context, status_code=status_code)


@login_required
async def account_page(request: Request) -> Response:
    return await _page(request)


@login_required
async def change_password(request: Request) -> Response:
    form = await checked_form(request)
    current = str(form.get("current_password", ""))
    new = str(form.get("new_password", ""))
    if new != str(form.get("new_password_again", "")):
        return await _page(request, "The two new passwords differ: type the same one twice.", 400)
    try:
        accounts.check_password(new)
    except accounts.AccountError as error:
        return await _page(request, f"Not changed: {error}.", 400)
    context = ui(request)
    user: accounts.User = request.state.user
    attempt = await run_in_threadpool(
        context.login_throttle.attempt, user.email, client_host(request)
    )
    if attempt.refused:
        return refused(await _page(request, attempt.refusal(), 429), attempt)
    signed_in = server_session(request)
    assert signed_in is not None  # login_required let the request in
    try:
        ended = await run_in_threadpool(
            lambda: accounts.change_password(
                context.store, user.id, current, new, keep_session=signed_in.id
            )
        )
    except accounts.AccountError as error:
        return await _page(request, f"Not changed: {error}.", 400)
    await run_in_threadpool(context.login_throttle.succeeded, attempt)
    others = (
        f" {ended} other session{'s were' if ended != 1 else ' was'} signed out." if ended else ""
    )
    flash(request, f"Your password is changed.{others}", "ok")
    return RedirectResponse("/account", status_code=303)


routes = [
    Route("/account", account_page, methods=["GET"]),
    Route("/account/password", change_password, methods=["POST"]),
]
