"""The first account, from the browser: on a database without users, `/setup?code=…` creates it.

The code is derived from the session key (so every process of one installation agrees on it) and
printed by `shopbridge serve` while no account exists: someone who merely reaches the page of a
fresh installation cannot claim it. Once an account exists the page is gone; further accounts
come from `shopbridge user create`.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from shopbridge.web import accounts
from shopbridge.web.auth import checked_form, sign_in
from shopbridge.web.context import render, ui


def setup_code(session_key: str) -> str:
    return hmac.new(session_key.encode(), b"shopbridge first account", hashlib.sha256).hexdigest()[
        :20
    ]


def _code_ok(request: Request, given: object) -> bool:
    expected = ui(request).setup_code
    return bool(expected) and isinstance(given, str) and hmac.compare_digest(given, expected)


async def setup_page(request: Request) -> Response:
    store = ui(request).store
    if await run_in_threadpool(accounts.has_users, store):
        return RedirectResponse("/login", status_code=303)
    code = request.query_params.get("code", "")
    if not _code_ok(request, code):
        return _wrong_code(request)
    return render(request, "setup.html", {"code": code, "email": "", "error": None})


async def create_first_account(request: Request) -> Response:
    form = await checked_form(request)
    store = ui(request).store
    if await run_in_threadpool(accounts.has_users, store):
        return RedirectResponse("/login", status_code=303)
    code = form.get("code", "")
    if not _code_ok(request, code):
        return _wrong_code(request)
    email, password = str(form.get("email", "")), str(form.get("password", ""))
    try:
        user = await run_in_threadpool(accounts.create_user, store, email, password)
    except accounts.AccountError as error:
        return render(
            request,
            "setup.html",
            {"code": code, "email": email, "error": str(error)},
            status_code=400,
        )
    await sign_in(request, user)
    return RedirectResponse("/connections/new", status_code=303)


def _wrong_code(request: Request) -> Response:
    return render(
        request,
        "error.html",
        {
            "title": "Open the setup link",
            "message": "Create the first account with the link `shopbridge serve` printed when it "
            "started (it carries a code), or run `shopbridge user create`.",
        },
        status_code=403,
    )


routes = [
    Route("/setup", setup_page, methods=["GET"]),
    Route("/setup", create_first_account, methods=["POST"]),
]
