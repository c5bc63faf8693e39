"""Alerts: one digest by email and webhook, at most once per interval, whoever sends it.

Real channels on loopback: an SMTP sink (tests/support/smtp_sink.py) and an HTTP webhook sink;
the store on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest

from shopbridge.alerts import (
    AlertDigest,
    AlertKind,
    Channel,
    ChannelStatus,
    DigestStatus,
    collect_alerts,
    render_digest,
)
from shopbridge.clock import ManualClock
from shopbridge.config import Settings
from shopbridge.store import Store
from shopbridge_sandbox.serving import BackgroundServer
from support.smtp_sink import REFUSAL, SmtpSink
from support.webhook_sink import WebhookSink

PUBLIC_URL = "https://bridge.example.com"
QUIET_WEBHOOKS = 30 * 24 * 60  # minutes: long enough that no test but the silence one sees it


@dataclass
class Sinks:
    smtp: SmtpSink
    webhook: WebhookSink

    def settings(self, **overrides: object) -> Settings:
        base = Settings(
            alert_email="ops@example.com",
            smtp_url=self.smtp.url,
            smtp_from="bridge@example.com",
            alert_webhook_url=self.webhook.url,
            alert_digest_minutes=15,
            webhook_silence_minutes=QUIET_WEBHOOKS,
            public_url=PUBLIC_URL,
        )
        return replace(base, **overrides)  # type: ignore[arg-type]

    def texts(self) -> tuple[list[str], list[str]]:
        """What each channel received so far: email bodies, webhook texts."""
        return [m.text for m in self.smtp.received()], [
            r.json["text"] for r in self.webhook.received
        ]


@pytest.fixture
def sinks() -> Iterator[Sinks]:
    webhook = WebhookSink(path="/hooks/T000/B000/secret-token")
    with SmtpSink() as smtp, BackgroundServer(webhook.app()) as server:
        webhook.url = f"{server.base_url}{webhook.path}"
        yield Sinks(smtp, webhook)


@pytest.fixture
def shop(store: Store) -> int:
    return store.add_connection(
        name="Demo shop",
        tiktok_shop_id="7494049642642441621",
        shopify_domain="demo.myshopify.com",
    )


def lose_access(store: Store, connection_id: int) -> None:
    store.update_connection(
        connection_id, status="needs_reconnect", reconnect_reason="the Shopify app was uninstalled"
    )


def flag(store: Store, connection_id: int, order_id: str, reason: str) -> None:
    with store.order_unit(connection_id, order_id) as unit:
        unit.save(
            {"order": order_id},
            tiktok_status="AWAITING_SHIPMENT",
            needs_attention=True,
            attention_reason=reason,
        )


def digest(store: Store, sinks: Sinks, **settings: object) -> AlertDigest:
    return AlertDigest(store, sinks.settings(**settings))


async def test_a_lost_connection_and_an_order_needing_attention_go_out_in_one_digest(
    store: Store, manual_clock: ManualClock, sinks: Sinks, shop: int
) -> None:
    """Both alerts, each with its link into the UI, reach the mailbox and the webhook at once."""
    lose_access(store, shop)
    flag(store, shop, "576486316948490001", "TikTok SKU TEE-BLUE-XL is unknown to Shopify")

    result = await digest(store, sinks).send_due(manual_clock.now())

    assert result.status is DigestStatus.SENT
    assert result.channel(Channel.EMAIL).status is ChannelStatus.SENT
    assert result.channel(Channel.WEBHOOK).status is ChannelStatus.SENT
    assert {a.kind for a in result.alerts} == {
        AlertKind.NEEDS_RECONNECT,
        AlertKind.NEEDS_ATTENTION,
    }
    [mail] = sinks.smtp.received()
    assert mail.recipients == ("ops@example.com",)
    assert mail.mail_from == "bridge@example.com"
    assert mail["Subject"] == "shopbridge: 2 alerts on Demo shop"
    [posted] = sinks.webhook.received
    assert posted.headers["content-type"] == "application/json"
    for text in (mail.text, posted.json["text"]):
        assert "Demo shop needs reconnecting: the Shopify app was uninstalled." in text
        assert f"{PUBLIC_URL}/connections/{shop}/settings" in text
        assert (
            "1 order needs attention: 576486316948490001 "
            "(TikTok SKU TEE-BLUE-XL is unknown to Shopify)" in text
        )
        assert f"{PUBLIC_URL}/connections/{shop}/orders?state=attention" in text


async def test_links_are_paths_without_a_public_url(
    store: Store, manual_clock: ManualClock, shop: int
) -> None:
    """With no public_url the links are paths of the merchant UI."""
    flag(store, shop, "576486316948490001", "carrier 'Foo Post' is not supported")
    [alert] = collect_alerts(store, manual_clock.now(), timedelta(days=30), "")
    assert alert.link == f"/connections/{shop}/orders?state=attention"


async def test_no_second_digest_within_the_interval(
    store: Store, manual_clock: ManualClock, sinks: Sinks, shop: int
) -> None:
    """Within alert_digest_minutes of a digest nothing more is sent, even about a new alert."""
    lose_access(store, shop)
    alerts = digest(store, sinks)
    assert (await alerts.send_due(manual_clock.now())).status is DigestStatus.SENT
    manual_clock.advance(timedelta(minutes=14))
    flag(store, shop, "576486316948490002", "the buyer's address was refused by Shopify")

    result = await alerts.send_due(manual_clock.now())

    assert result.status is DigestStatus.TOO_SOON
    assert result.channel(Channel.EMAIL).status is ChannelStatus.NOT_SENT
    assert len(sinks.smtp.received()) == 1
    assert len(sinks.webhook.received) == 1


async def test_unchanged_alerts_are_repeated_only_after_a_day(
    store: Store, manual_clock: ManualClock, sinks: Sinks, shop: int
) -> None:
    """After the interval the same alerts are not sent again, until a day after the last."""
    lose_access(store, shop)
    alerts = digest(store, sinks)
    assert (await alerts.send_due(manual_clock.now())).status is DigestStatus.SENT

    manual_clock.advance(timedelta(minutes=16))
    assert (await alerts.send_due(manual_clock.now())).status is DigestStatus.UNCHANGED
    manual_clock.advance(timedelta(hours=23, minutes=43))
    assert (await alerts.send_due(manual_clock.now())).status is DigestStatus.UNCHANGED
    assert len(sinks.smtp.received()) == 1

    manual_clock.advance(timedelta(minutes=1))
    reminder = await alerts.send_due(manual_clock.now())

    assert reminder.status is DigestStatus.SENT
    emails, posts = sinks.texts()
    assert len(emails) == len(posts) == 2
    assert emails[0] == emails[1]


async def test_a_new_alert_after_the_interval_is_sent(
    store: Store, manual_clock: ManualClock, sinks: Sinks, shop: int
) -> None:
    """Once the interval is over, a changed set of alerts goes out with the new one in it."""
    flag(store, shop, "576486316948490001", "carrier 'Foo Post' is not supported")
    alerts = digest(store, sinks)
    assert (await alerts.send_due(manual_clock.now())).status is DigestStatus.SENT
    manual_clock.advance(timedelta(minutes=15))
    flag(store, shop, "576486316948490002", "the buyer's address was refused by Shopify")

    result = await alerts.send_due(manual_clock.now())

    assert result.status is DigestStatus.SENT
    emails, posts = sinks.texts()
    assert len(emails) == len(posts) == 2
    assert "2 orders need attention" in emails[1]
    assert "576486316948490002 (the buyer's address was refused by Shopify)" in posts[1]


async def test_a_problem_that_went_away_and_came_back_is_sent_again(
    store: Store, manual_clock: ManualClock, sinks: Sinks, shop: int
) -> None:
    """A connection reconnected and lost again is news, though the alert reads the same."""
    lose_access(store, shop)
    alerts = digest(store, sinks)
    assert (await alerts.send_due(manual_clock.now())).status is DigestStatus.SENT
    store.update_connection(shop, status="active", reconnect_reason=None)
    manual_clock.advance(timedelta(minutes=20))
    assert (await alerts.send_due(manual_clock.now())).status is DigestStatus.NOTHING_TO_SEND
    manual_clock.advance(timedelta(minutes=5))
    lose_access(store, shop)

    result = await alerts.send_due(manual_clock.now())

    assert result.status is DigestStatus.SENT
    assert len(sinks.smtp.received()) == 2


async def test_two_processes_send_one_digest(
    store: Store, manual_clock: ManualClock, sinks: Sinks, shop: int
) -> None:
    """Two senders due at the same moment, each with its own database connections: one sends,
    the other finds it sent, round after round."""
    first, second = digest(store, sinks), digest(store, sinks)
    lose_access(store, shop)
    for round_number in range(3):
        flag(store, shop, f"57648631694849000{round_number}", "carrier 'Foo Post' is unknown")

        results = await asyncio.gather(
            first.send_due(manual_clock.now()), second.send_due(manual_clock.now())
        )

        statuses = sorted(r.status.value for r in results)
        assert statuses == sorted([DigestStatus.SENT.value, DigestStatus.TOO_SOON.value])
        assert len(sinks.smtp.received()) == round_number + 1
        assert len(sinks.webhook.received) == round_number + 1
        manual_clock.advance(timedelta(minutes=15))


async def test_a_refusing_smtp_server_fails_the_email_only(
    store: Store, manual_clock: ManualClock, sinks: Sinks, shop: int
) -> None:
    """A server that refuses the recipient: the email says why it failed, the webhook is sent."""
    lose_access(store, shop)
    with SmtpSink(refuse_recipients=True) as refusing:
        alerts = digest(store, sinks, smtp_url=refusing.url)
        result = await alerts.send_due(manual_clock.now())

        email = result.channel(Channel.EMAIL)
        assert email.status is ChannelStatus.FAILED
        assert email.detail == (
            f"the SMTP server 127.0.0.1:{refusing.port} refused the recipient "
            f"ops@example.com: {REFUSAL}"
        )
        assert refusing.received() == []
    assert result.status is DigestStatus.SENT
    assert result.channel(Channel.WEBHOOK).status is ChannelStatus.SENT
    assert len(sinks.webhook.received) == 1
    assert "Email failed: the SMTP server" in result.summary()


async def test_an_unreachable_smtp_server_and_a_failing_webhook_say_why(
    store: Store, manual_clock: ManualClock, sinks: Sinks, shop: int
) -> None:
    """No SMTP server listening, a webhook answering 500: both fail with a one-line reason that
    names the webhook's host only, and the same alerts are tried again after the interval."""
    lose_access(store, shop)
    closed = SmtpSink().start()
    closed.stop()  # its port is now closed
    sinks.webhook.status = 500
    alerts = digest(store, sinks, smtp_url=f"smtp://127.0.0.1:{closed.port}")

    result = await alerts.send_due(manual_clock.now())

    email, webhook = result.channel(Channel.EMAIL), result.channel(Channel.WEBHOOK)
    assert email.status is webhook.status is ChannelStatus.FAILED
    assert email.detail == (
        f"could not connect to the SMTP server 127.0.0.1:{closed.port}: connection refused"
    )
    assert webhook.detail == "the alert webhook at 127.0.0.1 answered HTTP 500"
    assert "secret-token" not in result.summary()

    manual_clock.advance(timedelta(minutes=15))
    sinks.webhook.status = 200
    retried = await alerts.send_due(manual_clock.now())

    assert retried.status is DigestStatus.SENT
    assert retried.channel(Channel.WEBHOOK).status is ChannelStatus.SENT


async def test_webhook_silence_is_detected_per_platform(
    store: Store, manual_clock: ManualClock, shop: int
) -> None:
    """An active connection with no TikTok webhook since it was made and a Shopify one 130 min
    ago alerts about both (silence 120 min); one 90 min ago would not; a paused one never."""
    paused = store.add_connection(name="Paused shop", status="paused")
    manual_clock.advance(timedelta(minutes=60))
    store.record_delivery(
        source="shopify",
        delivery_key="evt-1",
        topic="orders/updated",
        connection_id=shop,
        headers={},
        body=b"{}",
    )
    silence = timedelta(minutes=120)

    manual_clock.advance(timedelta(minutes=90))
    early = collect_alerts(store, manual_clock.now(), silence, PUBLIC_URL)
    manual_clock.advance(timedelta(minutes=40))
    late = collect_alerts(store, manual_clock.now(), silence, PUBLIC_URL)

    assert [a.key for a in early] == [f"webhook_silence:{shop}:tiktok"]
    assert early[0].text.startswith(
        "No TikTok webhook for 2 h 30 min (none since the connection was made): check that "
        f"TikTok still sends its notifications to {PUBLIC_URL}/webhooks/tiktok"
    )
    assert early[0].link == f"{PUBLIC_URL}/connections/{shop}/settings"
    assert [a.key for a in late] == [
        f"webhook_silence:{shop}:tiktok",
        f"webhook_silence:{shop}:shopify",
    ]
    assert late[1].text.startswith("No Shopify webhook for 2 h 10 min:")
    assert all(a.connection_id != paused for a in late)


async def test_many_orders_needing_attention_name_five_and_count_the_rest(
    store: Store, manual_clock: ManualClock, shop: int
) -> None:
    """Seven flagged orders: the newest five are named with their reasons, two more counted;
    an unpaid order (not listed yet) is not counted."""
    for number in range(7):
        flag(store, shop, f"5764863169484900{number:02d}", f"reason {number}")
        manual_clock.advance(timedelta(seconds=1))
    with store.order_unit(shop, "576486316948499999") as unit:
        unit.save({}, tiktok_status="UNPAID", needs_attention=True, attention_reason="unpaid")

    [alert] = collect_alerts(store, manual_clock.now(), timedelta(days=30), PUBLIC_URL)

    assert alert.text == (
        "7 orders need attention: 576486316948490006 (reason 6); 576486316948490005 (reason 5); "
        "576486316948490004 (reason 4); 576486316948490003 (reason 3); "
        "576486316948490002 (reason 2), and 2 more. Open each order to see what to do."
    )


async def test_the_digest_is_grouped_by_connection(
    store: Store, manual_clock: ManualClock, shop: int
) -> None:
    """Each connection's alerts come under its name."""
    other = store.add_connection(name="Second shop", status="needs_reconnect")
    flag(store, shop, "576486316948490001", "carrier 'Foo Post' is not supported")
    alerts = collect_alerts(store, manual_clock.now(), timedelta(days=30), "")

    subject, text = render_digest(alerts)

    assert subject == "shopbridge: 2 alerts on Demo shop, Second shop"
    assert text.index("Demo shop (connection") < text.index("1 order needs attention")
    assert text.index("1 order needs attention") < text.index("Second shop (connection")
    assert "Second shop needs reconnecting: a platform no longer accepts" in text
    assert f"/connections/{other}/settings" in text


async def test_without_channels_nothing_is_sent(
    store: Store, manual_clock: ManualClock, shop: int
) -> None:
    """With neither email nor webhook configured, send_due does nothing and says so."""
    lose_access(store, shop)

    result = await AlertDigest(store, Settings()).send_due(manual_clock.now())

    assert result.status is DigestStatus.NO_CHANNELS
    assert [r.status for r in result.channels] == [ChannelStatus.NOT_CONFIGURED] * 2
    assert result.channel(Channel.EMAIL).detail == "set alert_email and smtp_url"


async def test_a_test_alert_goes_to_every_channel_whatever_the_interval(
    store: Store, manual_clock: ManualClock, sinks: Sinks, shop: int
) -> None:
    """Right after a digest, a test alert still goes out, marked as a test, and does not count
    as a digest."""
    lose_access(store, shop)
    alerts = digest(store, sinks)
    assert (await alerts.send_due(manual_clock.now())).status is DigestStatus.SENT

    result = await alerts.send_test()

    assert result.status is DigestStatus.TEST
    assert result.summary() == "Email sent to ops@example.com; Webhook sent to 127.0.0.1."
    assert sinks.smtp.received()[-1]["Subject"] == "[TEST] shopbridge test alert"
    assert sinks.webhook.received[-1].json["text"].startswith("[TEST] shopbridge test alert")
    manual_clock.advance(timedelta(minutes=16))
    assert (await alerts.send_due(manual_clock.now())).status is DigestStatus.UNCHANGED


async def test_a_server_without_login_is_named_and_the_password_is_not(
    store: Store, manual_clock: ManualClock, sinks: Sinks, shop: int
) -> None:
    """A user and password for a server that offers no AUTH: a reason to act on, no secret."""
    lose_access(store, shop)
    smtp_url = sinks.smtp.url.replace("smtp://", "smtp://alerts%40example.com:pa55%2Fword@")

    result = await digest(store, sinks, smtp_url=smtp_url).send_due(manual_clock.now())

    email = result.channel(Channel.EMAIL)
    assert email.status is ChannelStatus.FAILED
    assert email.detail == (
        f"the SMTP server 127.0.0.1:{sinks.smtp.port} offers no login (AUTH): remove the user "
        "and password from smtp_url"
    )
    assert "pa55" not in result.summary()
