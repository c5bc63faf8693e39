"""Fixtures for the Shopify client unit tests."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import GraphQLSchema, build_schema
from shopify_fakes import FakeTime, ScriptedShopify

from shopbridge.shopify.client import ShopifyClient
from shopbridge.shopify.throttle import ShopBucket

REPO_ROOT = Path(__file__).resolve().parents[3]
VENDORED_SCHEMA = REPO_ROOT / "src/shopbridge/shopify/schema/admin_2026-07.graphql"
SHARED_SCHEMA = REPO_ROOT / "../shared/shopify-schema/admin_2026-07.schema.graphql"


def _build(path: Path) -> GraphQLSchema:
    # assume_valid: Shopify's own SDL breaks a type-system rule graphql-core enforces
    # (Customer.hasTimelineComment is deprecated, the interface field it implements is not).
    # That says nothing about our operations, which are still fully validated.
    return build_schema(path.read_text(encoding="utf-8"), assume_valid=True)


@pytest.fixture(scope="session")
def vendored_schema() -> GraphQLSchema:
    """The vendored 2026-07 Admin schema, built once per session (3.8 MB, a few seconds)."""
    return _build(VENDORED_SCHEMA)


@pytest.fixture(scope="session")
def shared_schema(vendored_schema: GraphQLSchema) -> GraphQLSchema:
    """The project's shared copy of the schema, when this checkout sits beside it."""
    if not SHARED_SCHEMA.exists():
        pytest.skip(f"no shared schema at {SHARED_SCHEMA}")
    if SHARED_SCHEMA.read_bytes() == VENDORED_SCHEMA.read_bytes():
        return vendored_schema  # same text, same schema: spare a second 5-second build
    return _build(SHARED_SCHEMA)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def shopify() -> ScriptedShopify:
    return ScriptedShopify()


@pytest.fixture
async def make_client(
    shopify: ScriptedShopify, fake_time: FakeTime
) -> AsyncIterator[Callable[..., ShopifyClient]]:
    """Build clients on the scripted endpoint, with fake time and a private bucket; all closed."""
    clients: list[ShopifyClient] = []

    def build(**overrides: Any) -> ShopifyClient:
        options: dict[str, Any] = {
            "base_url": "http://127.0.0.1:9",
            "transport": httpx.MockTransport(shopify.handler),
            "bucket": ShopBucket(monotonic=fake_time.monotonic, sleep=fake_time.sleep),
            "sleep": fake_time.sleep,
            "rng": random.Random(7),
        }
        options.update(overrides)
        client = ShopifyClient("demo", "shpat_test", **options)
        clients.append(client)
        return client

    yield build
    for client in clients:
        await client.aclose()
