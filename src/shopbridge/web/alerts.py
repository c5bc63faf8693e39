"""The Alerts panel of a connection's Settings: where alerts go, the last digest, and a button
that sends a test alert to every configured channel."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from shopbridge.alerts import (
    AlertChannels,
    AlertDigest,
    ChannelResult,
    DigestRecord,
    DigestStatus,
    digest_history,
)
from shopbridge.web.auth import checked_form, connection_of, flash, login_required
from shopbridge.web.context import ui


@dataclass(frozen=True)
class AlertPanel:
    """What the panel shows; never the SMTP password nor the webhook's URL (secrets)."""

    email_to: str | None  # "ops@example.com via smtp.example.com:587 (…)", None if not set up
    email_missing: str
    webhook_to: str | None  # the webhook's host, None if not set up
    webhook_missing: str
    digest_minutes: float
    silence_minutes: float
    last_digest: DigestRecord | None
    last_results: tuple[ChannelResult, ...]


async def alert_panel(request: Request) -> AlertPanel:
    context = ui(request)
    channels = AlertChannels.from_settings(context.settings)
    history = await run_in_threadpool(digest_history, context.store)
    last = history.last_digest
    return AlertPanel(
        email_to=channels.email_target() if channels.email_configured else None,
        email_missing=channels.email_missing(),
        webhook_to=channels.webhook_target() if channels.webhook_configured else None,
        webhook_missing=channels.webhook_missing(),
        digest_minutes=context.settings.alert_digest_minutes,
        silence_minutes=context.settings.webhook_silence_minutes,
        last_digest=last,
        last_results=() if last is None else last.channel_results(),
    )


@login_required
async def send_test_alert(request: Request) -> Response:
    """Send a test alert now, whatever the digest interval, and flash each channel's result."""
    connection = connection_of(request)
    await checked_form(request)
    context = ui(request)
    result = await AlertDigest(context.store, context.settings).send_test()
    if result.status is DigestStatus.NO_CHANNELS:
        flash(
            request,
            "No alert channel is configured: set alert_email and smtp_url, or "
            "alert_webhook_url (see the README's Configuration).",
            "error",
        )
    else:
        level = "error" if result.failed else "ok"
        flash(request, f"Test alert: {result.summary()}", level)
    return RedirectResponse(f"/connections/{connection.id}/settings#alerts", status_code=303)


def routes() -> list[Route]:
    return [
        Route(
            "/connections/{connection_id:int}/settings/alerts/test",
            send_test_alert,
            methods=["POST"],
        )
    ]
