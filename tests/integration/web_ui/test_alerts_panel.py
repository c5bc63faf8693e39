"""The Alerts panel in Settings: where alerts go (no secrets shown), the last digest, and the
Send a test alert button."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from shopbridge.alerts import AlertDigest
from shopbridge.bootstrap import bootstrap
from shopbridge.config import Settings
from shopbridge.web.accounts import User
from shopbridge_sandbox.serving import BackgroundServer
from support.smtp_sink import SmtpSink
from support.webhook_sink import WebhookSink
from support.world import World

from .conftest import login, post

SECRET_PATH = "/services/T000/B000/XXXXsecretXXXX"


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def webhook() -> Iterator[WebhookSink]:
    sink = WebhookSink(path=SECRET_PATH)
    with BackgroundServer(sink.app()) as server:
        sink.url = server.base_url + SECRET_PATH
        yield sink


@contextmanager
def ui_with(world: World, settings: Settings) -> Iterator[httpx.Client]:
    """The merchant UI of the world's store, served with these settings."""
    service = bootstrap(settings, store=world.store, clock=world.clock, contexts=world)
    app = service.web(secret_key="test-session-key")
    with (
        BackgroundServer(app) as server,
        httpx.Client(base_url=server.base_url, follow_redirects=True) as client,
    ):
        yield client


def alert_settings(smtp: SmtpSink, webhook: WebhookSink, **overrides: str) -> Settings:
    values = {
        "alert_email": "ops@example.com",
        "smtp_url": smtp.url,
        "alert_webhook_url": webhook.url,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


def settings_url(world: World) -> str:
    return f"/connections/{world.connection_id}/settings"


def test_the_panel_shows_where_alerts_go_without_secrets(
    world: World, merchant: User, smtp: SmtpSink, webhook: WebhookSink
) -> None:
    """Email recipient and SMTP host, the webhook's host: never the password or webhook path."""
    settings = alert_settings(
        smtp, webhook, smtp_url="smtps://alerts%40example.com:pa55-w0rd@mail.example.com"
    )
    with ui_with(world, settings) as client:
        login(client, merchant.email)
        html = client.get(settings_url(world)).text
    panel = html.split('data-testid="alerts-panel"')[1]
    assert "to ops@example.com via mail.example.com:465 (TLS)" in panel
    assert f"to {webhook.url.split('/')[2].split(':')[0]}" in panel
    assert "pa55-w0rd" not in html
    assert "XXXXsecretXXXX" not in html
    assert "never" in panel.split('data-testid="alerts-last-digest"')[1].split("</dd>")[0]


def test_the_test_button_sends_to_every_channel_and_flashes_each_result(
    world: World, merchant: User, smtp: SmtpSink, webhook: WebhookSink
) -> None:
    """Pressing Send a test alert mails and posts a marked test, and says how each went."""
    with ui_with(world, alert_settings(smtp, webhook)) as client:
        login(client, merchant.email)
        response = post(client, f"{settings_url(world)}/alerts/test", settings_url(world))
        assert response.status_code == 303
        assert response.headers["location"] == f"{settings_url(world)}#alerts"
        page = client.get(settings_url(world)).text
    assert "Test alert: Email sent to ops@example.com; Webhook sent to 127.0.0.1." in page
    [mail] = smtp.received()
    assert mail["Subject"] == "[TEST] shopbridge test alert"
    [posted] = webhook.received
    assert posted.json["text"].startswith("[TEST] shopbridge test alert")


def test_a_failing_channel_is_flashed_as_an_error(
    world: World, merchant: User, smtp: SmtpSink, webhook: WebhookSink
) -> None:
    """A webhook answering 404 is reported with its status; the email still goes."""
    webhook.status = 404
    with ui_with(world, alert_settings(smtp, webhook)) as client:
        login(client, merchant.email)
        post(client, f"{settings_url(world)}/alerts/test", settings_url(world))
        page = client.get(settings_url(world)).text
    assert 'class="flash flash-error"' in page
    assert "Webhook failed: the alert webhook at 127.0.0.1 answered HTTP 404" in page
    assert len(smtp.received()) == 1


def test_the_test_button_needs_the_csrf_token(
    world: World, merchant: User, smtp: SmtpSink, webhook: WebhookSink
) -> None:
    """A POST without the page's CSRF token is refused and sends nothing."""
    with ui_with(world, alert_settings(smtp, webhook)) as client:
        login(client, merchant.email)
        response = client.post(f"{settings_url(world)}/alerts/test", data={})
    assert response.status_code == 403
    assert smtp.received() == []
    assert webhook.received == []


def test_without_channels_the_panel_says_what_to_set(world: World, merchant: User) -> None:
    """Nothing configured: the panel says which settings to set, and the button says so too."""
    with ui_with(world, Settings()) as client:
        login(client, merchant.email)
        html = client.get(settings_url(world)).text
        assert "not configured (set alert_email and smtp_url)" in html
        assert "not configured (set alert_webhook_url)" in html
        post(client, f"{settings_url(world)}/alerts/test", settings_url(world))
        page = client.get(settings_url(world)).text
    assert "No alert channel is configured" in page


def test_the_last_digest_is_shown_in_the_merchants_timezone(
    world: World, merchant: User, smtp: SmtpSink, webhook: WebhookSink
) -> None:
    """After a digest went out, the panel shows when (New York time) and how each channel went."""
    settings = alert_settings(smtp, webhook)
    world.store.update_connection(world.connection_id, status="needs_reconnect")
    asyncio.run(AlertDigest(world.store, settings).send_due(world.clock.now()))
    with ui_with(world, settings) as client:
        login(client, merchant.email)
        html = client.get(settings_url(world)).text
    last = html.split('data-testid="alerts-last-digest"')[1].split("</dd>")[0]
    assert "2026-11-02 04:00" in last  # 09:00 UTC
    assert "Email sent to ops@example.com; Webhook sent to 127.0.0.1" in last
