"""A Shopify store behind the real Admin GraphQL API 2026-07, on loopback.

    from shopbridge_sandbox.shopify import ShopifySandbox, StoreCredentials, VariantSpec
    sandbox = ShopifySandbox(clock=ManualClock(), faults=Faults(seed=1))
    store = sandbox.add_shop("demo", plan="standard")
    sandbox.add_product(
        "demo", title="Tee", variants=[VariantSpec(sku="TEE-RED-L", price="19.99", available=10)]
    )
    with BackgroundServer(sandbox.app) as server:
        POST {server.base_url}/admin/api/2026-07/graphql.json
        with header X-Shopify-Access-Token: store.access_token

Requests are parsed and validated against the vendored 2026-07 schema and executed with
graphql-core; fields the sandbox does not implement answer with a GraphQL error naming
them. Each request is charged Shopify's calculated cost against a per-shop leaky bucket
(standard: 2000 points, 100/s; plus: 20000, 1000/s) in real monotonic time.

Fault knobs (`Faults.api_fault()`) apply to the GraphQL endpoint, not to the control API:
`api_error_rate` answers 500 `{"errors": "Internal Server Error"}` and `api_429_rate` a 429
THROTTLED body with Retry-After, both without running the request; `api_timeout_rate` runs
it, then answers `api_timeout_seconds` real seconds late; `api_lost_answer_rate` runs it (its
change stays), then answers 502 `{"errors": "Bad Gateway"}` instead of the real answer;
`api_latency_seconds` delays every answer that many real seconds (a slow platform).

Control API (JSON; errors are HTTP 400 `{"error": "..."}`):

    POST /_sandbox/shops                          {"name", "plan"?, "locations"?} → credentials
    POST /_sandbox/shops/{shop}/products          {"title", "variants": [{"sku", "price"?,
                                                   "available"?, "title"?, "inventory_policy"?}]}
    POST /_sandbox/shops/{shop}/webhooks          {"topic": "orders/create", "url"} → {"id"}
    GET  /_sandbox/shops/{shop}/orders            → [order snapshot], oldest first; optional
                                                  ?updated_since=<ISO 8601 with offset>
                                                  (updated_at >= it) and
                                                  ?source_identifier=<exact match>
    GET  /_sandbox/shops/{shop}/orders/{id}       → order snapshot (id numeric or gid); each
                                                  fulfillment order has "created_at",
                                                  "first_held_at" (first hold ever placed,
                                                  kept after release, or null) and holds
                                                  with "created_at"
    POST /_sandbox/shops/{shop}/orders/{id}/fulfill  {"company"?, "number"?, "url"?} → {"id"}
    POST /_sandbox/shops/{shop}/orders/{id}/cancel   {"reason"?, "restock"?} (merchant, at once)
    POST /_sandbox/shops/{shop}/inventory/adjust  {"sku", "delta", "location_id"?}
    GET  /_sandbox/shops/{shop}/inventory/{sku}   → {"available", "committed", "on_hand", ...}
    POST /_sandbox/shops/{shop}/uninstall         token stops working, app/uninstalled sent
    POST /_sandbox/shops/{shop}/bucket            {"available"} → throttleStatus
    POST /_sandbox/clock/advance                  {"seconds"} (ManualClock only)
    GET|POST /_sandbox/faults                     fault knobs (FaultSettings names) and
                                                  "throttle_status_code" (200 | 429)
    POST /_sandbox/tick                           finish due jobs, deliver due webhooks
    GET  /_sandbox/webhooks                       the delivery log
"""

from shopbridge_sandbox.shopify.cli import serve
from shopbridge_sandbox.shopify.sandbox import ShopifySandbox
from shopbridge_sandbox.shopify.specs import StoreCredentials, VariantSpec
from shopbridge_sandbox.shopify.world import SandboxError

__all__ = ["SandboxError", "ShopifySandbox", "StoreCredentials", "VariantSpec", "serve"]
