"""Webhook receivers: verify against the raw bytes, store durably, answer fast.

Nothing is parsed before the signature is checked; a bad signature gets 401 with an empty body
and nothing stored. A body larger than the limit is answered 413 before it is read whole (so an
unsigned flood is never buffered). A verified delivery is stored in the inbox before we answer
200 (workflow.md rule 7), deduplicated per (platform, connection); whatever it contains it is
stored, as malformed if it cannot be read, never answered 500. The worker does the rest, and
treats what a delivery says as a hint: it reads the platforms before acting (engine/inbox.py).

Nothing here holds a thread while it waits: the connections come from the store's in-memory
`connection_cache` (refreshed off the event loop, at most a second stale for another process's
changes), and deliveries are stored through `store.deliveries`, which group-commits concurrent
deliveries and answers each after its own commit (store/ingest.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import structlog
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response

from shopbridge.shopify.webhooks import verify_shopify_hmac
from shopbridge.store import ConnectionRecord, Store
from shopbridge.store.connection_cache import TikTokApp
from shopbridge.store.ingest import Delivery
from shopbridge.tiktok.signing import verify_webhook
from shopbridge.tiktok.webhooks import MalformedNotification, delivery_key, parse_notification
from shopbridge.web.bodies import TooLarge, read_body

log = structlog.get_logger("shopbridge.webhooks")

DEFAULT_MAX_BYTES = 1_048_576
DEFAULT_REPLAY_WINDOW = timedelta(hours=24)


def tiktok_receiver(
    store: Store, wake: Callable[[], None], max_bytes: int = DEFAULT_MAX_BYTES
) -> Callable[[Request], object]:
    async def receive(request: Request) -> Response:
        try:
            body = await read_body(request, max_bytes)
        except TooLarge as refused:
            log.warning("tiktok webhook refused: too large", limit=max_bytes)
            return PlainTextResponse(str(refused), status_code=413)
        except ClientDisconnect:
            return Response(status_code=400)
        signature = request.headers.get("authorization")
        snapshot = await store.connection_cache.current()
        # One app signs for all its shops; find the app that signed these bytes.
        signed_by = _signing_app(snapshot.tiktok_apps, body, signature)
        if signed_by is None:
            log.warning("tiktok webhook refused: bad signature", bytes=len(body))
            return Response(status_code=401)
        status, error, topic, connection = "pending", None, "unknown", None
        try:
            notification = parse_notification(body)
            key = delivery_key(body, notification)
            topic = notification.topic
            connection = signed_by.by_shop(notification.shop_id)
        except MalformedNotification as problem:
            status, error = "malformed", str(problem)
            key = "sha256:" + hashlib.sha256(body).hexdigest()
            connection = signed_by.connections[0] if len(signed_by.connections) == 1 else None
        if connection is None and status == "pending":
            status, error = "ignored", "no connection for this TikTok shop"
        stored = await store.deliveries.record(
            Delivery(
                source="tiktok",
                delivery_key=key,
                topic=topic,
                connection_id=None if connection is None else connection.id,
                headers=dict(request.headers),
                body=body,
                received_at=store.clock.now(),
                status=status,
                error=error,
            )
        )
        log.info("tiktok webhook", key=key[:80], topic=topic[:80], new=stored, status=status)
        if stored and status == "pending":
            wake()
        return Response(status_code=200)

    return receive


def shopify_receiver(
    store: Store,
    wake: Callable[[], None],
    max_bytes: int = DEFAULT_MAX_BYTES,
    replay_window: timedelta = DEFAULT_REPLAY_WINDOW,
) -> Callable[[Request], object]:
    async def receive(request: Request) -> Response:
        headers = request.headers
        try:
            body = await read_body(request, max_bytes)
        except TooLarge as refused:
            log.warning("shopify webhook refused: too large", limit=max_bytes)
            return PlainTextResponse(str(refused), status_code=413)
        except ClientDisconnect:
            return Response(status_code=400)
        domain = shopify_header(headers, "shop-domain") or ""
        snapshot = await store.connection_cache.current()
        connection = snapshot.shopify_connection(domain[:255])
        secrets = [] if connection is None else _shopify_secrets(connection)
        if not verify_shopify_hmac(body, shopify_header(headers, "hmac-sha256"), secrets):
            log.warning("shopify webhook refused: bad signature", shop=domain[:80])
            return Response(status_code=401)
        assert connection is not None
        topic = shopify_header(headers, "topic") or "unknown"
        key = (
            shopify_header(headers, "event-id")
            or shopify_header(headers, "webhook-id")
            or "sha256:" + hashlib.sha256(body).hexdigest()
        )
        status, error = "pending", _not_a_json_object(body)
        if error is not None:
            status = "malformed"
        triggered = _moment(shopify_header(headers, "triggered-at"))
        if triggered is not None and triggered < store.clock.now() - replay_window:
            # The HMAC covers the body only: an old body is someone's replay, or a delivery
            # retried past any use. Shopify stops retrying on a 200; nothing is acted on.
            status = "ignored"
            error = f"a replay: triggered at {triggered.isoformat()}, older than {replay_window}"
        stored = await store.deliveries.record(
            Delivery(
                source="shopify",
                delivery_key=key,
                topic=topic,
                connection_id=connection.id,
                headers=dict(headers),
                body=body,
                received_at=store.clock.now(),
                status=status,
                error=error,
            )
        )
        log.info(
            "shopify webhook",
            event_id=key[:80],
            topic=topic[:80],
            new=stored,
            status=status,
            **({"why": error} if error else {}),
        )
        if stored and status == "pending":
            wake()
        return Response(status_code=200)

    return receive


def _not_a_json_object(body: bytes) -> str | None:
    """Why the body is not a JSON object, or None when it is one."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as problem:
        return f"body is not JSON: {problem}"
    return None if isinstance(document, dict) else "body is not a JSON object"


def shopify_header(headers: Mapping[str, str], name: str) -> str | None:
    """A Shopify header in either spelling: `X-Shopify-Topic` or the newer `shopify-topic`."""
    return headers.get(f"x-shopify-{name}") or headers.get(f"shopify-{name}")


def _moment(value: str | None) -> datetime | None:
    """An ISO 8601 moment (aware, else read as UTC); None when absent or unreadable."""
    if not value or len(value) > 64:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _signing_app(
    apps: tuple[TikTokApp, ...], body: bytes, signature: str | None
) -> TikTokApp | None:
    """The TikTok app whose secret signed exactly these bytes, if any."""
    if not signature:
        return None
    return next(
        (app for app in apps if verify_webhook(app.app_key, app.app_secret, body, signature)),
        None,
    )


def _shopify_secrets(connection: ConnectionRecord) -> list[str]:
    return [
        s
        for s in (connection.shopify_client_secret, connection.shopify_previous_client_secret)
        if s
    ]
