"""Webhook receivers: verify against the raw bytes, store durably, answer fast.

Nothing is parsed before the signature is checked; a bad signature gets 401 with an empty body
and nothing stored. A verified delivery is stored in the inbox before we answer 200 (workflow.md
rule 7), deduplicated by its platform key; the worker does the rest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from shopbridge.shopify.webhooks import verify_shopify_hmac
from shopbridge.store import ConnectionRecord, Store
from shopbridge.tiktok.signing import verify_webhook
from shopbridge.tiktok.webhooks import MalformedNotification, delivery_key, parse_notification

log = structlog.get_logger("shopbridge.webhooks")

EMPTY_OK = Response(status_code=200)
UNAUTHORIZED = Response(status_code=401)


def tiktok_receiver(store: Store, wake: Callable[[], None]) -> Callable[[Request], object]:
    async def receive(request: Request) -> Response:
        body = await request.body()
        signature = request.headers.get("authorization")
        connections = await run_in_threadpool(store.list_connections)
        # One app signs for all its shops; find the connections whose app signed these bytes.
        signed_by = [
            c
            for c in connections
            if c.tiktok_app_key
            and c.tiktok_app_secret
            and verify_webhook(c.tiktok_app_key, c.tiktok_app_secret, body, signature)
        ]
        if not signed_by:
            log.warning("tiktok webhook refused: bad signature", bytes=len(body))
            return Response(status_code=401)
        status, error, topic, connection = "pending", None, "unknown", None
        try:
            notification = parse_notification(body)
            key = delivery_key(body, notification)
            topic = notification.topic
            connection = _by_shop(signed_by, notification.shop_id)
        except MalformedNotification as problem:
            status, error = "malformed", str(problem)
            key = "sha256:" + hashlib.sha256(body).hexdigest()
            connection = signed_by[0] if len(signed_by) == 1 else None
        if connection is None and status == "pending":
            status, error = "ignored", "no connection for this TikTok shop"
        stored = await run_in_threadpool(
            lambda: store.record_delivery(
                source="tiktok",
                delivery_key=key,
                topic=topic,
                connection_id=None if connection is None else connection.id,
                headers=dict(request.headers),
                body=body,
                status=status,
                error=error,
            )
        )
        log.info("tiktok webhook", key=key, topic=topic, new=stored, status=status)
        if stored and status == "pending":
            wake()
        return Response(status_code=200)

    return receive


def shopify_receiver(store: Store, wake: Callable[[], None]) -> Callable[[Request], object]:
    async def receive(request: Request) -> Response:
        body = await request.body()
        domain = request.headers.get("x-shopify-shop-domain", "")
        connection = await run_in_threadpool(store.connection_by_shopify_domain, domain)
        secrets = [] if connection is None else _shopify_secrets(connection)
        if not verify_shopify_hmac(body, request.headers.get("x-shopify-hmac-sha256"), secrets):
            log.warning("shopify webhook refused: bad signature", shop=domain)
            return Response(status_code=401)
        assert connection is not None
        topic = request.headers.get("x-shopify-topic", "unknown")
        key = (
            request.headers.get("x-shopify-event-id")
            or request.headers.get("x-shopify-webhook-id")
            or "sha256:" + hashlib.sha256(body).hexdigest()
        )
        status, error = "pending", None
        try:
            json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as problem:
            status, error = "malformed", f"body is not JSON: {problem}"
        stored = await run_in_threadpool(
            lambda: store.record_delivery(
                source="shopify",
                delivery_key=key,
                topic=topic,
                connection_id=connection.id,
                headers=dict(request.headers),
                body=body,
                status=status,
                error=error,
            )
        )
        log.info(
            "shopify webhook",
            event_id=key,
            webhook_id=request.headers.get("x-shopify-webhook-id"),
            topic=topic,
            new=stored,
        )
        if stored and status == "pending":
            wake()
        return Response(status_code=200)

    return receive


def _by_shop(connections: list[ConnectionRecord], shop_id: str) -> ConnectionRecord | None:
    return next((c for c in connections if c.tiktok_shop_id == shop_id), None)


def _shopify_secrets(connection: ConnectionRecord) -> list[str]:
    return [
        s
        for s in (connection.shopify_client_secret, connection.shopify_previous_client_secret)
        if s
    ]
