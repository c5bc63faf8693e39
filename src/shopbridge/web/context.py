"""What every merchant page needs: the store, the bridge, the templates, and one `render`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from shopbridge.clock import Clock
from shopbridge.config import Settings
from shopbridge.engine.bridge import Bridge
from shopbridge.store import Store
from shopbridge.web.passwords import MIN_PASSWORD_LENGTH
from shopbridge.web.sessions import SessionPolicy
from shopbridge.web.throttle import LoginThrottle

HERE = Path(__file__).parent
HTMX = "vendor/htmx-2.0.11.min.js"


@dataclass(frozen=True)
class UiContext:
    store: Store
    clock: Clock
    bridge: Bridge
    wake: Callable[[], None]
    # Called after a connection's settings changed, so a worker can drop cached policies.
    on_connection_changed: Callable[[int], None]
    templates: Jinja2Templates
    login_throttle: LoginThrottle
    # The service's settings: public_url, the platform apps' credentials, alert channels.
    settings: Settings = field(default_factory=Settings)
    # Opens /setup (the first account) while no user exists; see web/setup.py.
    setup_code: str = ""
    # When a signed-in session ends by itself (idle timeout, absolute lifetime).
    session_policy: SessionPolicy = field(default_factory=SessionPolicy)


def ui(request: Request) -> UiContext:
    context: UiContext = request.app.state.ui
    return context


def build_templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local"] = local_time
    env.globals["htmx"] = HTMX
    env.globals["min_password_length"] = MIN_PASSWORD_LENGTH
    return Jinja2Templates(env=env)


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(at: datetime | None, timezone: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """`at` (aware UTC) as the merchant reads it, in their connection's timezone."""
    if at is None:
        return "—"
    return at.astimezone(zone(timezone)).strftime(fmt)


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    from shopbridge.web.auth import csrf_token, take_flashes

    full = {
        "user": getattr(request.state, "user", None),
        "csrf_token": csrf_token(request),
        "flashes": take_flashes(request),
        "nav_connections": getattr(request.state, "connections", []),
        "current_connection": None,
        "active": "",
        **context,
    }
    response: HTMLResponse = ui(request).templates.TemplateResponse(
        request, template, full, status_code=status_code
    )
    return response
