"""Alerts: what needs the merchant, sent as one digest by email and/or to a chat webhook.

Three things are worth interrupting someone for: a connection that needs reconnecting (a
platform revoked shopbridge's access; its orders wait), orders that need attention, and a
platform whose webhooks fell silent for longer than `webhook_silence_minutes`.
`collect_alerts` reads them from the database; `AlertDigest.send_due` sends them as one digest,
at most once every `alert_digest_minutes` whichever of several processes calls it, and repeats
an unchanged set of alerts once a day only.

Email goes through the standard library's `smtplib` (in a thread) and the webhook through httpx:
apprise would be the house's choice (STYLE.md), but it is not a dependency of shopbridge yet, and
these two channels are a few lines each.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import smtplib
import socket
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from enum import StrEnum
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import sqlalchemy as sa
import structlog

from shopbridge.config import Settings
from shopbridge.store import Store
from shopbridge.store.db import read_transaction, write_transaction
from shopbridge.store.tables import alert_digests, connections, inbox, order_mirrors

log = structlog.get_logger("shopbridge.alerts")

# An unchanged set of alerts is sent again after this long, as a reminder.
REMINDER_AFTER = timedelta(hours=24)
SHOWN_ORDERS = 5  # order ids named in an attention alert; the count covers the rest
ATTENTION_SCAN = 200  # attention orders read per connection to notice a changed set
WEBHOOK_PLATFORMS = {"tiktok": "TikTok", "shopify": "Shopify"}
SMTP_TIMEOUT_SECONDS = 20.0
WEBHOOK_TIMEOUT_SECONDS = 10.0
# The fingerprint of an empty set of alerts: a row saying "all clear", so that problems that went
# away and came back are sent again (see `claim_digest`).
ALL_CLEAR = ""
# An arbitrary constant naming "alert digest" among PostgreSQL advisory locks.
_DIGEST_LOCK_KEY = 0x5B_0D_A1_E7


class AlertKind(StrEnum):
    NEEDS_RECONNECT = "needs_reconnect"
    NEEDS_ATTENTION = "needs_attention"
    WEBHOOK_SILENCE = "webhook_silence"


@dataclass(frozen=True)
class Alert:
    """One thing that needs the merchant: what is wrong and what to do, and where in the UI."""

    connection_id: int
    connection_name: str
    kind: AlertKind
    text: str
    link: str
    # Stays the same while the problem does (not the text, which says for how long): digests
    # compare these to tell a new problem from one already sent.
    key: str


# -- what needs the merchant ---------------------------------------------------------------------


def collect_alerts(
    store: Store, now: datetime, silence: timedelta, base_url: str = ""
) -> list[Alert]:
    """Every alert now, by connection: one per connection needing reconnect, one per connection
    with orders needing attention, one per active connection and platform whose newest webhook
    (or, without any, the connection's creation) is older than `silence`. Links start with
    `base_url` (the public URL), or are paths when it is empty."""
    base = base_url.rstrip("/")
    found: list[Alert] = []
    with read_transaction(store.engine) as db:
        rows = db.execute(
            sa.select(
                connections.c.id,
                connections.c.name,
                connections.c.status,
                connections.c.reconnect_reason,
                connections.c.created_at,
            )
            .where(connections.c.status != "revoked")
            .order_by(connections.c.id)
        ).all()
        flagged: dict[int, int] = dict(db.execute(_attention_counts()).all())
        for cid, name, status, reconnect_reason, created_at in rows:
            if status == "needs_reconnect":
                found.append(_reconnect_alert(cid, name, reconnect_reason, base))
            if flagged.get(cid):
                orders = [(oid, why) for oid, why in db.execute(_attention_orders(cid))]
                found.append(_attention_alert(cid, name, flagged[cid], orders, base))
            if status == "active":
                for platform in WEBHOOK_PLATFORMS:
                    newest = db.execute(_newest_delivery(cid, platform)).scalar()
                    since = newest or created_at
                    if now - since > silence:
                        found.append(
                            _silence_alert(cid, name, platform, now - since, newest is None, base)
                        )
    return found


def _listed_attention() -> list[sa.ColumnElement[bool]]:
    # As the orders list shows them: unpaid orders are not listed yet (workflow.md row 1), so an
    # alert about one would link to a list without it.
    return [
        order_mirrors.c.needs_attention.is_(True),
        sa.func.coalesce(order_mirrors.c.tiktok_status, "UNPAID") != "UNPAID",
    ]


def _attention_counts() -> sa.Select[int, int]:
    return (
        sa.select(order_mirrors.c.connection_id, sa.func.count())
        .where(*_listed_attention())
        .group_by(order_mirrors.c.connection_id)
    )


def _attention_orders(connection_id: int) -> sa.Select[str, str | None]:
    return (
        sa.select(order_mirrors.c.tiktok_order_id, order_mirrors.c.attention_reason)
        .where(order_mirrors.c.connection_id == connection_id, *_listed_attention())
        .order_by(order_mirrors.c.created_at.desc(), order_mirrors.c.id.desc())
        .limit(ATTENTION_SCAN)
    )


def _newest_delivery(connection_id: int, platform: str) -> sa.Select[datetime | None]:
    # MAX over ix_inbox_connection_source_received: one index probe on either database.
    return sa.select(sa.func.max(inbox.c.received_at)).where(
        inbox.c.connection_id == connection_id, inbox.c.source == platform
    )


def _reconnect_alert(cid: int, name: str, reason: str | None, base: str) -> Alert:
    why = _one_line(reason or "a platform no longer accepts shopbridge's access").rstrip(".")
    return Alert(
        cid,
        name,
        AlertKind.NEEDS_RECONNECT,
        f"{name} needs reconnecting: {why}. Its orders wait, nothing is lost: reconnect it in "
        "Settings.",
        f"{base}/connections/{cid}/settings",
        f"needs_reconnect:{cid}:{why}",
    )


def _attention_alert(
    cid: int, name: str, count: int, orders: Sequence[tuple[str, str | None]], base: str
) -> Alert:
    shown = [
        f"{order_id} ({_one_line(reason, 120)})" if reason else order_id
        for order_id, reason in orders[:SHOWN_ORDERS]
    ]
    more = f", and {count - len(shown)} more" if count > len(shown) else ""
    noun = "1 order needs" if count == 1 else f"{count} orders need"
    ids = "\n".join(sorted(order_id for order_id, _ in orders))
    return Alert(
        cid,
        name,
        AlertKind.NEEDS_ATTENTION,
        f"{noun} attention: {'; '.join(shown)}{more}. Open each order to see what to do.",
        f"{base}/connections/{cid}/orders?state=attention",
        f"needs_attention:{cid}:{count}:{hashlib.sha256(ids.encode()).hexdigest()[:16]}",
    )


def _silence_alert(
    cid: int, name: str, platform: str, quiet: timedelta, never: bool, base: str
) -> Alert:
    label = WEBHOOK_PLATFORMS[platform]
    since = " (none since the connection was made)" if never else ""
    receiver = f"{base}/webhooks/{platform}" if base else f"shopbridge's /webhooks/{platform}"
    return Alert(
        cid,
        name,
        AlertKind.WEBHOOK_SILENCE,
        f"No {label} webhook for {_duration(quiet)}{since}: check that {label} still sends its "
        f"notifications to {receiver}; until then changes arrive only with reconciliation, "
        "minutes later.",
        f"{base}/connections/{cid}/settings",
        f"webhook_silence:{cid}:{platform}",
    )


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} day{'s' if days > 1 else ''} {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def fingerprint_of(alerts: Iterable[Alert]) -> str:
    """What a set of alerts is, whatever their order and wording: equal sets, equal prints."""
    keys = sorted({alert.key for alert in alerts})
    if not keys:
        return ALL_CLEAR
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()


def render_digest(alerts: Sequence[Alert], *, footer: str = "") -> tuple[str, str]:
    """The digest's subject and plain text: the alerts grouped by connection, each with its
    link."""
    names = list(dict.fromkeys(alert.connection_name for alert in alerts))
    count = f"{len(alerts)} alert{'s' if len(alerts) != 1 else ''}"
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    subject = f"shopbridge: {count} on {shown}"
    lines = [f"shopbridge needs you: {count} on {len(names)} connection(s).", ""]
    by_connection: dict[tuple[int, str], list[Alert]] = {}
    for alert in alerts:
        by_connection.setdefault((alert.connection_id, alert.connection_name), []).append(alert)
    for (cid, name), group in by_connection.items():
        lines.append(f"{name} (connection {cid})")
        for alert in group:
            lines.append(f"- {alert.text}")
            lines.append(f"  {alert.link}")
        lines.append("")
    if footer:
        lines.append(footer)
    return subject, "\n".join(lines).rstrip() + "\n"


# -- channels ------------------------------------------------------------------------------------


class DeliveryFailed(Exception):
    """A channel did not take the message; the text is one line a person can act on."""


@dataclass(frozen=True)
class SmtpServer:
    """Where `smtp_url` sends mail: smtp://[user:password@]host[:port] (STARTTLS when the server
    offers it; port 25 by default) or smtps://… (TLS from the start; port 465 by default)."""

    host: str
    port: int
    implicit_tls: bool
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str) -> SmtpServer:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise DeliveryFailed(
                "smtp_url must look like smtp://user:password@host:587 or smtps://host:465"
            )
        try:
            port = parts.port or (465 if parts.scheme == "smtps" else 25)
        except ValueError:
            raise DeliveryFailed("smtp_url has a port that is not a number") from None
        return cls(
            parts.hostname,
            port,
            parts.scheme == "smtps",
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password is not None else None,
        )

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def recipients_of(alert_email: str) -> list[str]:
    """The addresses in `alert_email` (several may be separated by commas)."""
    return [address.strip() for address in alert_email.split(",") if address.strip()]


async def send_email(smtp_url: str, sender: str, to: str, subject: str, text: str) -> None:
    """Mail `text` to `to` (one address or several, comma-separated) through `smtp_url`;
    raises DeliveryFailed with a one-line reason."""
    await asyncio.to_thread(_send_email_now, smtp_url, sender, recipients_of(to), subject, text)


def _send_email_now(
    smtp_url: str, sender: str, recipients: list[str], subject: str, text: str
) -> None:
    server = SmtpServer.parse(smtp_url)
    if not recipients:
        raise DeliveryFailed("alert_email names no address")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    # A domain of our own: make_msgid's default looks up this host's FQDN, which can hang on DNS.
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "shopbridge")
    message.set_content(text)
    try:
        _deliver_mail(server, sender, recipients, message)
    except DeliveryFailed:
        raise
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryFailed(_smtp_failure(server, sender, error)) from None


def _deliver_mail(
    server: SmtpServer, sender: str, recipients: list[str], message: EmailMessage
) -> None:
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if server.implicit_tls:
        client = smtplib.SMTP_SSL(
            server.host, server.port, timeout=SMTP_TIMEOUT_SECONDS, context=context
        )
    else:
        client = smtplib.SMTP(server.host, server.port, timeout=SMTP_TIMEOUT_SECONDS)
    with client:
        client.ehlo_or_helo_if_needed()
        encrypted = server.implicit_tls
        if not encrypted and client.has_extn("starttls"):
            client.starttls(context=context)
            client.ehlo()
            encrypted = True
        if server.user:
            if not encrypted and not _is_loopback(server.host):
                raise DeliveryFailed(
                    f"the SMTP server {server.address} offers no STARTTLS: shopbridge will not "
                    "send the password unencrypted (use smtps:// or a server with STARTTLS)"
                )
            client.login(server.user, server.password or "")
        refused = client.send_message(message, from_addr=sender, to_addrs=recipients)
    if refused:
        raise DeliveryFailed(_refused_recipients(server, refused))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _smtp_failure(server: SmtpServer, sender: str, error: Exception) -> str:
    where = f"the SMTP server {server.address}"
    match error:
        case smtplib.SMTPRecipientsRefused():
            return _refused_recipients(server, error.recipients)
        case smtplib.SMTPSenderRefused():
            return f"{where} refused the sender {sender}: {_answer(error)}"
        case smtplib.SMTPAuthenticationError():
            return f"{where} refused the login of {server.user}: {_answer(error)}"
        case smtplib.SMTPNotSupportedError():
            return f"{where} offers no login (AUTH): remove the user and password from smtp_url"
        case smtplib.SMTPConnectError():
            return f"{where} refused the connection: {_answer(error)}"
        case smtplib.SMTPResponseException():
            return f"{where} answered {_answer(error)}"
        case smtplib.SMTPServerDisconnected():
            return f"{where} closed the connection: {_one_line(str(error)) or 'no reason given'}"
        case ssl.SSLError():
            return f"TLS with {where} failed: {_one_line(error.reason or str(error))}"
        case TimeoutError():
            return f"{where} did not answer within {SMTP_TIMEOUT_SECONDS:g} s"
        case ConnectionRefusedError():
            return f"could not connect to {where}: connection refused"
        case socket.gaierror():
            return f"could not find the SMTP server {server.host}: {error.strerror}"
        case OSError():
            return f"could not reach {where}: {_one_line(error.strerror or str(error))}"
    return f"{where}: {_one_line(str(error))}"


def _answer(error: smtplib.SMTPResponseException) -> str:
    text = error.smtp_error
    decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{error.smtp_code} {_one_line(decoded)}"


def _refused_recipients(server: SmtpServer, refused: dict[str, tuple[int, bytes]]) -> str:
    each = "; ".join(
        f"{address}: {code} {_one_line(answer.decode('utf-8', 'replace'))}"
        for address, (code, answer) in refused.items()
    )
    return f"the SMTP server {server.address} refused the recipient {each}"


async def post_webhook(http: httpx.AsyncClient, url: str, text: str) -> None:
    """POST `text` to a Slack-compatible incoming webhook (`{"text": …}`); raises
    DeliveryFailed on a non-2xx answer (with its status) or when it cannot be reached. The
    webhook's URL is a secret: errors name only its host."""
    host = urlsplit(url).hostname or "(no host)"
    where = f"the alert webhook at {host}"
    try:
        response = await http.post(
            url, json={"text": _slack_escaped(text)}, timeout=WEBHOOK_TIMEOUT_SECONDS
        )
    except httpx.TimeoutException:
        raise DeliveryFailed(
            f"{where} did not answer within {WEBHOOK_TIMEOUT_SECONDS:g} s"
        ) from None
    except httpx.HTTPError as error:
        reason = _one_line(str(error).replace(url, host)) or type(error).__name__
        raise DeliveryFailed(f"could not reach {where}: {reason}") from None
    if not response.is_success:
        body = _one_line(response.text, 200)
        raise DeliveryFailed(
            f"{where} answered HTTP {response.status_code}" + (f": {body}" if body else "")
        )


def _slack_escaped(text: str) -> str:
    # Slack reads <…> as links and mentions; these three must be escaped in plain text
    # (api.slack.com/reference/surfaces/formatting#escaping).
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Channel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


class ChannelStatus(StrEnum):
    SENT = "sent"
    FAILED = "failed"
    NOT_CONFIGURED = "not configured"
    NOT_SENT = "not sent"  # configured, but nothing was due this time (see DigestResult.status)


@dataclass(frozen=True)
class ChannelResult:
    """What happened on one channel; `detail` is where it went, why it failed, or what is
    missing from the settings."""

    channel: Channel
    status: ChannelStatus
    detail: str = ""

    def line(self) -> str:
        label = "Email" if self.channel is Channel.EMAIL else "Webhook"
        if self.status is ChannelStatus.SENT:
            return f"{label} sent to {self.detail}" if self.detail else f"{label} sent"
        if self.status is ChannelStatus.FAILED:
            return f"{label} failed: {self.detail}"
        if self.status is ChannelStatus.NOT_CONFIGURED:
            return f"{label} not configured" + (f" ({self.detail})" if self.detail else "")
        return f"{label} not sent"


@dataclass(frozen=True)
class AlertChannels:
    """The alert channels the settings configure. Descriptions never show the SMTP password or
    the webhook's URL (both secrets), only where they lead."""

    recipients: tuple[str, ...]
    smtp_url: str
    sender: str
    webhook_url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertChannels:
        return cls(
            tuple(recipients_of(settings.alert_email)),
            settings.smtp_url.strip(),
            settings.smtp_from,
            settings.alert_webhook_url.strip(),
        )

    @property
    def email_configured(self) -> bool:
        return bool(self.recipients and self.smtp_url)

    @property
    def webhook_configured(self) -> bool:
        return bool(self.webhook_url)

    @property
    def any_configured(self) -> bool:
        return self.email_configured or self.webhook_configured

    def email_missing(self) -> str:
        if self.email_configured:
            return ""
        if self.recipients:
            return "alert_email is set but not smtp_url"
        if self.smtp_url:
            return "smtp_url is set but not alert_email"
        return "set alert_email and smtp_url"

    def webhook_missing(self) -> str:
        return "" if self.webhook_configured else "set alert_webhook_url"

    def email_target(self) -> str:
        """Where email goes: "ops@example.com via smtp.example.com:587"."""
        to = ", ".join(self.recipients)
        try:
            server = SmtpServer.parse(self.smtp_url)
        except DeliveryFailed as error:
            return f"{to} ({error})"
        tls = "TLS" if server.implicit_tls else "STARTTLS when offered"
        return f"{to} via {server.address} ({tls})"

    def webhook_target(self) -> str:
        """Where the webhook goes: its host only (the path is the secret)."""
        return urlsplit(self.webhook_url).hostname or "an address without a host"

    def untried(self, status: ChannelStatus) -> tuple[ChannelResult, ...]:
        """Each channel's result when none was tried: `status` for those configured."""
        return (
            ChannelResult(Channel.EMAIL, status)
            if self.email_configured
            else ChannelResult(Channel.EMAIL, ChannelStatus.NOT_CONFIGURED, self.email_missing()),
            ChannelResult(Channel.WEBHOOK, status)
            if self.webhook_configured
            else ChannelResult(
                Channel.WEBHOOK, ChannelStatus.NOT_CONFIGURED, self.webhook_missing()
            ),
        )


# -- digests -------------------------------------------------------------------------------------


class DigestStatus(StrEnum):
    SENT = "sent"  # a digest went to every configured channel (each channel says how it went)
    TEST = "test"  # a test message went to every configured channel
    NO_CHANNELS = "no channels"  # nothing configured: nothing to do
    NOTHING_TO_SEND = "nothing to send"  # no alerts now
    TOO_SOON = "too soon"  # a digest went out less than alert_digest_minutes ago
    UNCHANGED = "unchanged"  # the same alerts went out less than a day ago


@dataclass(frozen=True)
class DigestResult:
    """What `send_due` or `send_test` did, per channel."""

    status: DigestStatus
    channels: tuple[ChannelResult, ...]
    alerts: tuple[Alert, ...] = ()

    def channel(self, which: Channel) -> ChannelResult:
        return next(result for result in self.channels if result.channel is which)

    @property
    def delivered(self) -> bool:
        """True when at least one channel took the message."""
        return any(result.status is ChannelStatus.SENT for result in self.channels)

    @property
    def failed(self) -> bool:
        return any(result.status is ChannelStatus.FAILED for result in self.channels)

    def summary(self) -> str:
        """One line per channel, for a person: "Email sent to …; Webhook failed: …"."""
        return "; ".join(result.line() for result in self.channels) + "."


@dataclass(frozen=True)
class DigestRecord:
    """One row of `alert_digests`: a digest claimed (and sent), or an all-clear."""

    id: int
    sent_at: datetime
    fingerprint: str
    results: str | None  # JSON text, NULL while it is being sent

    def channel_results(self) -> tuple[ChannelResult, ...]:
        if not self.results:
            return ()
        try:
            stored: dict[str, Any] = json.loads(self.results)
            return tuple(
                ChannelResult(Channel(name), ChannelStatus(item["status"]), item.get("detail", ""))
                for name, item in stored.items()
            )
        except (ValueError, KeyError, TypeError):
            return ()

    @property
    def delivered(self) -> bool:
        return any(r.status is ChannelStatus.SENT for r in self.channel_results())


@dataclass(frozen=True)
class DigestHistory:
    latest: DigestRecord | None  # the newest row, an all-clear or not
    last_digest: DigestRecord | None  # the newest digest claimed (not an all-clear)


def decide(
    history: DigestHistory, fingerprint: str, now: datetime, interval: timedelta
) -> DigestStatus | None:
    """None when a digest of the alerts `fingerprint` names is due now; else why not.

    Due when nothing was sent within `interval` and either the alerts differ from the last
    digest's (an all-clear in between makes the same alerts new again) or that digest is a day
    old. A digest that reached no channel (or whose sender died) does not count as sent.
    """
    if fingerprint == ALL_CLEAR:
        return DigestStatus.NOTHING_TO_SEND
    last = history.last_digest
    if last is None:
        return None
    if now < last.sent_at + interval:
        return DigestStatus.TOO_SOON
    latest = history.latest
    if (
        latest is not None
        and latest.id == last.id
        and last.fingerprint == fingerprint
        and last.delivered
        and now < last.sent_at + REMINDER_AFTER
    ):
        return DigestStatus.UNCHANGED
    return None


def read_history(db: sa.Connection) -> DigestHistory:
    newest = sa.select(alert_digests).order_by(
        alert_digests.c.sent_at.desc(), alert_digests.c.id.desc()
    )
    latest = db.execute(newest.limit(1)).mappings().first()
    if latest is None or latest["fingerprint"] != ALL_CLEAR:
        last = latest
    else:
        last = (
            db.execute(newest.where(alert_digests.c.fingerprint != ALL_CLEAR).limit(1))
            .mappings()
            .first()
        )
    return DigestHistory(
        None if latest is None else DigestRecord(**latest),
        None if last is None else DigestRecord(**last),
    )


def digest_history(store: Store) -> DigestHistory:
    """The newest digest rows (for the Settings panel and the cheap first check)."""
    with read_transaction(store.engine) as db:
        return read_history(db)


def claim_digest(
    store: Store, now: datetime, fingerprint: str, interval: timedelta
) -> int | DigestStatus:
    """Claim the right to send the digest of `fingerprint` now: its new row's id, or why not.

    Serialised across processes (SQLite: the write lock BEGIN IMMEDIATE takes; PostgreSQL: an
    advisory lock for the transaction), so the check and the insert are one step and of several
    processes exactly one claims each digest. An empty set of alerts records an all-clear
    (nothing is sent) unless the newest row is one already.
    """
    with write_transaction(store.engine) as db:
        if db.dialect.name == "postgresql":
            db.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DIGEST_LOCK_KEY})
        history = read_history(db)
        if fingerprint == ALL_CLEAR:
            latest = history.latest
            if latest is not None and latest.fingerprint != ALL_CLEAR:
                db.execute(
                    alert_digests.insert().values(sent_at=now, fingerprint=ALL_CLEAR, results="{}")
                )
            return DigestStatus.NOTHING_TO_SEND
        reason = decide(history, fingerprint, now, interval)
        if reason is not None:
            return reason
        created = db.execute(
            alert_digests.insert()
            .values(sent_at=now, fingerprint=fingerprint, results=None)
            .returning(alert_digests.c.id)
        )
        return int(created.scalar_one())


def record_results(store: Store, digest_id: int, results: Sequence[ChannelResult]) -> None:
    stored = {r.channel.value: {"status": r.status.value, "detail": r.detail} for r in results}
    with write_transaction(store.engine) as db:
        db.execute(
            alert_digests.update()
            .where(alert_digests.c.id == digest_id)
            .values(results=json.dumps(stored))
        )


class AlertDigest:
    """Sends the alerts digest when one is due (`send_due`), or a test message (`send_test`).

    Every process may own one and call `send_due(clock.now())` as often as it likes (once a
    minute is plenty): the database decides which of them sends, and when. `http` is used for
    the webhook (a client of its own per message without it).
    """

    def __init__(
        self, store: Store, settings: Settings, *, http: httpx.AsyncClient | None = None
    ) -> None:
        self.store = store
        self.channels = AlertChannels.from_settings(settings)
        self.interval = timedelta(minutes=settings.alert_digest_minutes)
        self.silence = timedelta(minutes=settings.webhook_silence_minutes)
        self.base_url = settings.public_url
        self._http = http

    async def send_due(self, now: datetime) -> DigestResult:
        """Send the digest if it is due now (see `decide`); what was done, per channel."""
        if not self.channels.any_configured:
            return DigestResult(
                DigestStatus.NO_CHANNELS, self.channels.untried(ChannelStatus.NOT_SENT)
            )
        history = await asyncio.to_thread(digest_history, self.store)
        last = history.last_digest
        if last is not None and now < last.sent_at + self.interval:
            return self._skipped(DigestStatus.TOO_SOON, [])
        alerts = await asyncio.to_thread(
            collect_alerts, self.store, now, self.silence, self.base_url
        )
        fingerprint = fingerprint_of(alerts)
        reason = decide(history, fingerprint, now, self.interval)
        latest = history.latest
        # Problems that went away are recorded (an all-clear), so that their return is news.
        newly_clear = (
            fingerprint == ALL_CLEAR and latest is not None and latest.fingerprint != ALL_CLEAR
        )
        if reason is not None and not newly_clear:
            return self._skipped(reason, alerts)
        claim = await asyncio.to_thread(claim_digest, self.store, now, fingerprint, self.interval)
        if isinstance(claim, DigestStatus):
            return self._skipped(claim, alerts)
        subject, text = render_digest(alerts, footer=self._footer())
        results = await self._deliver(subject, text)
        await asyncio.to_thread(record_results, self.store, claim, results)
        log.info(
            "alert digest sent",
            alerts=len(alerts),
            **{r.channel.value: r.status.value for r in results},
        )
        return DigestResult(DigestStatus.SENT, results, tuple(alerts))

    async def send_test(self) -> DigestResult:
        """A clearly marked test message to every configured channel at once, whatever the
        interval (and not counted as a digest)."""
        if not self.channels.any_configured:
            return DigestResult(
                DigestStatus.NO_CHANNELS, self.channels.untried(ChannelStatus.NOT_SENT)
            )
        now = self.store.clock.now()
        subject = "[TEST] shopbridge test alert"
        text = (
            f"This is a test alert from shopbridge, sent from Settings at "
            f"{now:%Y-%m-%d %H:%M} UTC. Nothing is wrong.\n\n"
            "Real alerts (a connection to reconnect, orders that need attention, webhooks silent "
            f"for {self.silence.total_seconds() / 60:g} minutes) come here as one digest.\n"
            f"{self._footer()}\n"
        )
        return DigestResult(DigestStatus.TEST, await self._deliver(subject, text))

    def _footer(self) -> str:
        minutes = self.interval.total_seconds() / 60
        return (
            f"At most one digest every {minutes:g} minutes; alerts that do not change are "
            "repeated once a day."
        )

    def _skipped(self, status: DigestStatus, alerts: Sequence[Alert]) -> DigestResult:
        return DigestResult(status, self.channels.untried(ChannelStatus.NOT_SENT), tuple(alerts))

    async def _deliver(self, subject: str, text: str) -> tuple[ChannelResult, ...]:
        """Send on every configured channel at once; a channel's failure never stops another."""
        email, webhook = await asyncio.gather(
            self._email(subject, text), self._webhook(f"{subject}\n\n{text}")
        )
        return email, webhook

    async def _email(self, subject: str, text: str) -> ChannelResult:
        channels = self.channels
        if not channels.email_configured:
            return ChannelResult(
                Channel.EMAIL, ChannelStatus.NOT_CONFIGURED, channels.email_missing()
            )
        to = ", ".join(channels.recipients)
        try:
            await send_email(channels.smtp_url, channels.sender, to, subject, text)
        except DeliveryFailed as error:
            log.warning("alert email failed", reason=str(error))
            return ChannelResult(Channel.EMAIL, ChannelStatus.FAILED, str(error))
        except Exception as error:  # a bug must not stop the other channel; it is logged
            log.exception("alert email failed unexpectedly")
            return ChannelResult(Channel.EMAIL, ChannelStatus.FAILED, _unexpected(error))
        return ChannelResult(Channel.EMAIL, ChannelStatus.SENT, to)

    async def _webhook(self, text: str) -> ChannelResult:
        channels = self.channels
        if not channels.webhook_configured:
            return ChannelResult(
                Channel.WEBHOOK, ChannelStatus.NOT_CONFIGURED, channels.webhook_missing()
            )
        try:
            if self._http is not None:
                await post_webhook(self._http, channels.webhook_url, text)
            else:
                async with httpx.AsyncClient() as http:
                    await post_webhook(http, channels.webhook_url, text)
        except DeliveryFailed as error:
            log.warning("alert webhook failed", reason=str(error))
            return ChannelResult(Channel.WEBHOOK, ChannelStatus.FAILED, str(error))
        except Exception as error:  # a bug must not stop the other channel; it is logged
            log.exception("alert webhook failed unexpectedly")
            return ChannelResult(Channel.WEBHOOK, ChannelStatus.FAILED, _unexpected(error))
        return ChannelResult(Channel.WEBHOOK, ChannelStatus.SENT, channels.webhook_target())


def _unexpected(error: Exception) -> str:
    return f"unexpected {type(error).__name__}: {_one_line(str(error), 200)}"
