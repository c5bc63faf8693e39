"""A Shopify store behind the real Admin GraphQL API 2026-07, on loopback.

    from shopbridge_sandbox.shopify import ShopifySandbox, StoreCredentials, VariantSpec
    sandbox = ShopifySandbox(clock=ManualClock(), faults=Faults(seed=1))
    store = sandbox.add_shop("demo", plan="standard")
    sandbox.add_product(
        "demo", title="Tee", variants=[VariantSpec(sku="TEE-RED-L", price="19.99", available=10)]
    )
    sandbox.sell("demo", "TEE-RED-L", 2, channel="pos")   # a buyer's paid order, stock committed
    sandbox.set_available("demo", "TEE-RED-L", 4)         # the merchant's count in the admin
    pop_up = sandbox.add_location("demo", "Pop-up")       # stocked by set_available/adjust_stock
    with BackgroundServer(sandbox.app) as server:
        POST {server.base_url}/admin/api/2026-07/graphql.json
        with header X-Shopify-Access-Token: store.access_token

Requests are parsed and validated against the vendored 2026-07 schema and executed with
graphql-core; fields the sandbox does not implement answer with a GraphQL error naming
them. Each request is charged Shopify's calculated cost against a per-shop leaky bucket
(standard: 2000 points, 100/s; plus: 20000, 1000/s) in real monotonic time; a list field
is charged per element it asks for (`first`, else its `ids` or `names`), so `nodes(ids:)`
costs per id (see `cost.py`).

Webhook bodies are REST representations: snake_case, numeric ids, `admin_graphql_api_id`, and
times in ISO 8601 with a numeric offset (`2026-11-02T09:00:00+00:00`, shopify_api_wave2.md §2.4).
Topics sent: orders/create, orders/cancelled, orders/fulfilled, orders/edited (the edit, not the
order) and orders/updated (after an edit or a refund), refunds/create, fulfillments/create and
/update, inventory_levels/update, app/uninstalled. A fulfilment naming USPS, UPS, FedEx or DHL
Express without a url gets the tracking URL Shopify builds (`tracking.py`).

Order editing (orderEditBegin / SetQuantity / Commit) stages reductions and applies them at
commit: removed unfulfilled units leave the fulfillment-order lines and, with restock, go from
committed back to available; increases are refused as not implemented (`editing.py`).
refundCreate (idempotency key required) records refunded quantities with RETURN, CANCEL or
NO_RESTOCK restocks and moves no money (`refunds.py`).

Fault knobs (`Faults.api_fault()`) apply to the GraphQL endpoint, not to the control API:
`api_error_rate` answers 500 `{"errors": "Internal Server Error"}` and `api_429_rate` a 429
THROTTLED body with Retry-After, both without running the request; `api_timeout_rate` runs
it, then answers `api_timeout_seconds` real seconds late; `api_lost_answer_rate` runs it (its
change stays), then answers 502 `{"errors": "Bad Gateway"}` instead of the real answer;
`api_latency_seconds` delays every answer that many real seconds (a slow platform).

Connecting (shopify_api_wave2.md §1; see `oauth.py`, `tokens.py`). The sandbox knows one app,
`PartnerApp` (stable defaults: client id `sandbox-shopify-app`, a fixed client secret; expiring
access tokens 3600 s, refresh tokens 90 days, client-credentials tokens 86399 s). One loopback
address serves every shop: a `<name>.myshopify.com` Host header names the shop, else a `shop`
field, else the only shop.

    GET  /admin/oauth/authorize?client_id&scope&redirect_uri&state&grant_options[]=
                                                  approval page with an Install form (400 page
                                                  for an unknown client_id, a redirect_uri not
                                                  allowed, per-user access, no shop)
    POST /admin/oauth/authorize                   Install: the shop is installed, 302 to
                                                  redirect_uri?code&hmac&host&shop&state&timestamp
    POST /admin/oauth/access_token                JSON or form; {client_id, client_secret} plus
        {code, expiring?}                         → {access_token, scope} or, expiring "1",
                                                    + expires_in, refresh_token,
                                                    refresh_token_expires_in (code: 10 min, once)
        {grant_type: refresh_token, refresh_token} → a new pair; the spent refresh token works
                                                    until the new access token is first used
        {grant_type: client_credentials, shop?}   → {access_token, scope, expires_in}
      errors: HTTP 400 {"error": invalid_request | invalid_client | invalid_grant |
              unsupported_grant_type, "error_description"}

The Admin endpoint accepts a shop's static token (`credentials().access_token`) and every issued
token until it expires or the app is uninstalled (which revokes them all at once).

Control API (JSON; errors are `{"error": "..."}` with HTTP 404 for an unknown SKU or location,
409 when the store's state refuses the act (a sold-out checkout), 400 otherwise):

    POST /_sandbox/shops                          {"name", "plan"?, "locations"?} → credentials
    POST /_sandbox/shops/{shop}/products          {"title", "variants": [{"sku", "price"?,
                                                   "available"?, "title"?, "inventory_policy"?}]}
    POST /_sandbox/shops/{shop}/webhooks          {"topic": "orders/create", "url"} → {"id"}
                                                  (any WebhookSubscriptionTopic, REST or enum)
    GET  /_sandbox/shops/{shop}/webhooks          → [{id, topic, uri, created_at, updated_at}]
    DELETE /_sandbox/shops/{shop}/webhooks/{id}   (numeric or gid) → {"deleted": gid}, as
                                                  Shopify drops a failing subscription
    POST /_sandbox/shops/{shop}/install-request   {"app_url"} → {"url": app_url?hmac&host&shop&
                                                  timestamp}, signed with the client secret
    POST /_sandbox/shops/{shop}/authorization-code {"scope"?} → {"code"} (Install, no browser)
    GET|POST /_sandbox/app                        the app's settings; POST sets redirect_urls,
                                                  access_token_lifetime, refresh_token_lifetime,
                                                  client_credentials_lifetime (seconds)
    GET  /_sandbox/shops/{shop}/orders            → [order snapshot], oldest first; optional
                                                  ?updated_since=<ISO 8601 with offset>
                                                  (updated_at >= it) and
                                                  ?source_identifier=<exact match>
    GET  /_sandbox/shops/{shop}/orders/{id}       → order snapshot (id numeric or gid); each
                                                  fulfillment order has "created_at",
                                                  "first_held_at" (first hold ever placed,
                                                  kept after release, or null), holds
                                                  with "created_at" and its "line_items"
                                                  (total and remaining); each line its
                                                  "current_quantity"; the order's "refunds"
    POST /_sandbox/shops/{shop}/orders/{id}/fulfill  {"company"?, "number"?, "url"?} → {"id"}
    POST /_sandbox/shops/{shop}/orders/{id}/cancel   {"reason"?, "restock"?} (merchant, at once)
    POST /_sandbox/shops/{shop}/locations         {"name"} → {"id": "gid://shopify/Location/…"}
                                                  (active; names unique per shop)
    POST /_sandbox/shops/{shop}/inventory/adjust  {"sku", "delta", "location_id"?}
    POST /_sandbox/shops/{shop}/inventory/set     {"sku", "available", "location_id"?}: the
                                                  merchant's count in the admin (a whole number
                                                  ≥ 0); inventory_levels/update once if changed
         (adjust and set: location_id is a gid or numeric, default the first location; the item
          is stocked there first if it was not, as "activate inventory at location" does;
          both answer the SKU's quantities at that location)
    POST /_sandbox/shops/{shop}/sales             {"sku", "quantity"? (1), "channel"?
                                                  ("online_store" | "pos"), "location_id"?}:
                                                  a paid checkout (sourceName "web" | "pos")
                                                  committing the units at the location
                                                  (available → committed), orders/create and
                                                  inventory_levels/update sent → {"order_id",
                                                  "name", "available" (left at the location)};
                                                  409 "sold out" for a DENY variant without
                                                  enough available, CONTINUE sells into negative
    GET  /_sandbox/shops/{shop}/inventory/{sku}   → {"available", "committed", "on_hand", ...},
                                                  summed over locations unless ?location_id=
    POST /_sandbox/shops/{shop}/uninstall         every token revoked, app/uninstalled sent,
                                                  then the shop's subscriptions deleted
    POST /_sandbox/shops/{shop}/bucket            {"available"} → throttleStatus
    POST /_sandbox/clock/advance                  {"seconds"} (ManualClock only)
    GET|POST /_sandbox/faults                     fault knobs (FaultSettings names) and
                                                  "throttle_status_code" (200 | 429)
    POST /_sandbox/tick                           finish due jobs, deliver due webhooks
    GET  /_sandbox/webhooks                       the delivery log
"""

from shopbridge_sandbox.shopify.cli import serve
from shopbridge_sandbox.shopify.partner_app import PartnerApp
from shopbridge_sandbox.shopify.sandbox import ShopifySandbox
from shopbridge_sandbox.shopify.specs import StoreCredentials, VariantSpec
from shopbridge_sandbox.shopify.world import Conflict, NotFound, SandboxError

__all__ = [
    "Conflict",
    "NotFound",
    "PartnerApp",
    "SandboxError",
    "ShopifySandbox",
    "StoreCredentials",
    "VariantSpec",
    "serve",
]
