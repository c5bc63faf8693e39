"""A faithful TikTok Shop Open API (version 202309) on loopback, for tests and demos.

The real platform is unreachable from here, so this sandbox speaks its wire format
(/work/shared/spec/tiktok_shop_api.md, cited below as §n): signed requests, the
`{code, message, request_id, data}` envelope, TikTok's error codes, the 50 QPS limit,
signed webhooks with TikTok's retry schedule, and the order lifecycle of §3.1.

Python API::

    sandbox = TikTokSandbox(clock=ManualClock(), faults=Faults(seed=1))
    shop = sandbox.add_shop(name="Demo US", region="US", webhook_url=None)  # ShopCredentials
    sandbox.add_product(shop.shop_id, title="Tee", skus=[SkuSpec("TEE-RED-L", "19.99", 10)])
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 2}, paid=False)
    sandbox.pay(order_id); sandbox.fail_payment(order_id); sandbox.buyer_cancel(order_id)
    sandbox.fraud_cancel(order_id); cancel_id = sandbox.request_cancellation(order_id)
    sandbox.carrier_collect(order_id); sandbox.deliver(order_id)   # after the seller shipped
    cancel_id = sandbox.cancel_items(order_id, [line_id], role="SYSTEM", reason=None)
    package_id = sandbox.combine_packages(shop_id, [order_a, order_b])
    sandbox.uncombine_package(package_id)                  # -> the order ids it held
    package_ids = sandbox.split_order(order_id, [[line_1], [line_2, line_3]])
    sandbox.package(package_id)          # as Get Package Detail returns it
    return_id = sandbox.create_return(order_id, [line_id], "RETURN_AND_REFUND", reason)
    sandbox.advance_return(return_id, "COMPLETE")   # or one status at a time
    sandbox.return_record(return_id)     # as Search Returns lists it
    await sandbox.tick()                 # timers due at clock.now(), then due webhooks
    sandbox.order(order_id)              # as Get Order Detail returns it
    sandbox.inventory(shop.shop_id, "TEE-RED-L")   # total available units
    sandbox.stock(shop.shop_id, "TEE-RED-L")       # + per warehouse, committed, lock
    sandbox.promotion_lock(shop.shop_id, "TEE-RED-L")   # Update Inventory may not lower it
    with BackgroundServer(sandbox.app) as server: ...   # the app's lifespan runs timers + webhooks
    sandbox.configure_app(redirect_url="https://…/callback", access_token_lifetime=5)
    sandbox.authorization_url(state?)    # /open/authorize?service_id=…
    sandbox.deauthorize(shop_id)         # tokens revoked (105001), type 6 webhook sent
    # also: credentials(shop_id), shop_ids(), order_ids(shop_id?), warehouse_ids(shop_id),
    # orders(shop_id, updated_since?),
    # sku_id(shop_id, seller_sku), delivery_option_id(shop_id), issue_auth_code(shop_id),
    # cancellation(cancel_id), apply_timers(), pump_webhooks(), deliveries(), notifications,
    # webhook_cancel_spelling

Behaviour worth knowing:
- Timers (ON_HOLD release 1 h after paid_time, unpaid cancel 24 h after create_time, request
  auto-approval 48 h after it opened) fire in clock time, earliest first, before every API
  call, every Python/control call, on `tick()` and every 50 ms in the app's lifespan.
- Rate limit: 50 requests per real second per API per app+shop, then HTTP 429 / 36009002. An
  API is a method and route template: Update Inventory for every product shares one window.
- Fault knobs (`Faults.api_fault()`) apply to every API call but not to the token routes nor
  the control API: 5xx and 429 answer at once without effect; a timeout applies the call,
  then answers `api_timeout_seconds` real seconds late; a lost answer
  (`api_lost_answer_rate`) applies the call, then answers HTTP 502 in the envelope
  (code 36009003, `data: null`) instead of the real answer; `api_latency_seconds` delays
  every answer that many real seconds (a slow platform).
- Webhooks go through `WebhookDispatcher` with retries 2 min, 30 min, 3 h and 12 h apart
  (§2.1), `Authorization` = hex HMAC-SHA256(app_secret, app_key + body) (§2.2).

API surface (signed like the real one; `x-tts-access-token` header; `shop_cipher` where scoped):
    GET  /authorization/202309/shops
    POST /order/202309/orders/search            GET /order/202309/orders?ids= (also 202507)
    POST /return_refund/202309/cancellations/search
    POST /return_refund/202309/cancellations/{cancel_id}/approve|reject   (idempotency_key)
    POST /return_refund/202309/cancellations    (seller cancel, idempotency_key)
    POST /fulfillment/202309/orders/{order_id}/packages
    POST /fulfillment/202309/orders/{order_id}/shipping_info/update   (once, within 72 h)
    POST /fulfillment/202309/packages/{package_id}/ship   (self_shipment; data {})
    POST /fulfillment/202309/packages/{package_id}/shipping_info/update   (once, within 72 h)
    GET  /fulfillment/202309/packages/{package_id}
    POST /return_refund/202309/returns/search   (page_size 10..50)
    GET  /logistics/202309/delivery_options/{id}/shipping_providers
    GET  /logistics/202309/warehouses    GET /logistics/202309/warehouses/{id}/delivery_options
    POST /product/202309/inventory/search       POST /product/202309/products/{id}/inventory/update
    POST /product/202502/products/search (and 202309)   GET /product/202309/products/{id}
    POST /order/202406/orders/external_orders   GET /order/202406/orders/{id}/external_orders
    POST /order/202406/orders/external_order_search?platform=&external_order_id=
    PUT|GET|DELETE /event/202309/webhooks   (per-topic webhook addresses)
    GET  /seller/202309/shops
    GET  /api/v2/token/get, /api/v2/token/refresh   (the auth host's routes, unsigned)
    GET|POST /open/authorize?service_id&state   the seller's approval page: a checked box per
                                                shop, Authorize → 302 redirect_url?code&state,
                                                Reject → ?code=null&error=access_denied&state

Sandbox choices where the docs are silent (UNCONFIRMED upstream):
- The sign covers the body bytes exactly as sent, a literal `{}` included (§1.3 leaves open
  whether TikTok drops an empty object; send no bytes when there is nothing to say).
- HTTP status of errors: gateway refusals 401 (403 for a token/shop mismatch 101000), bad
  parameters 400 (36009004), business refusals HTTP 200 with the code, 429 for throttling,
  500/503 for injected internal errors, 502 for injected lost answers (see `errors.py`).
- Reject Cancellation on a US shop answers 25001060 ("ship the package instead", §4.2).
- Shipping an UNPAID or CANCELLED order answers 21011001; an unknown provider 21011021.
- Type 1 webhooks spell a cancelled order `CANCEL` (settable to `CANCELLED`); the API says
  `CANCELLED`. Every cancellation, direct ones included, gets a cancellation record and a
  type 11 webhook; a rejected or ship-rejected request becomes CANCELLATION_REQUEST_CANCELLED.
- Unpaid auto-cancel after 24 h; inventory updates accept quantity 0; US tax is a flat 8%.
- A seller may cancel an UNPAID order with a `seller_cancel_unpaid_reason_*` key (the docs
  conflict, §4.2).
- Item-level cancels (wave2 §4): US and UK shops, out-of-stock reason only (else 25005010);
  a cancelled, shipped or unknown unit, or more units of a sku than remain, is 25005011. When
  Cancel Order carries both `order_line_item_ids` and `skus`, the line item ids win. TikTok
  (control API) may cancel any live unit, a shipped one too. Every cancelled unit's stock goes
  back to TikTok's count, as whole cancels do.
- Packages (wave2 §5): a split or a combine makes TO_FULFILL packages (§3.2's line-item
  package_status; Get Package Detail's enum starts at PROCESSING). Shipped packages are
  PROCESSING, FULFILLING once collected, COMPLETED once delivered. A carrier scan of a
  combined parcel moves every order in it. Shipping a cancelled line item answers 21011005;
  Mark Package As Shipped without line items while 2+ packages wait answers 21011048; a part
  of a combined order's units answers 21011046. Order-level tracking fixes of a split order
  answer 21011052; past 72 h 21011049; a second fix 21011051; an unknown package 21011028.
- Returns (wave2 §6) leave TikTok's stock alone; return ids are new 19-digit ids, never the
  order id. A unit in a live return cannot be in another.
- A token covers the shops the seller authorized (one seller owns every shop here).
  Refreshing rotates both tokens: the old access token stops at once (36009004) and the old
  refresh token is refused, so a lost rotation shows; the refresh token keeps the first
  authorization's expiry (365 days). Access tokens live the app's `access_token_lifetime`.
- Deauthorized tokens answer 105001; a deauthorized shop sends the app no more webhooks.

Control API (JSON, unsigned; errors `{"error"}` with 404 / 409 / 400):
    POST /_sandbox/shops {name, region, webhook_url?, warehouses?[names]} -> credentials
         + warehouse_ids (in the order named) + delivery_option_id
    POST /_sandbox/shops/{shop_id}/products {title, skus:[{seller_sku, price, quantity,
         name?, warehouse_quantities? {warehouse_id: units} instead of quantity}]}
         -> {product_id, sku_ids: {seller_sku: sku_id}}
    PUT  /_sandbox/shops/{shop_id}/webhook {url}
    POST /_sandbox/shops/{shop_id}/auth_code -> {auth_code} for /api/v2/token/get
    POST /_sandbox/shops/{shop_id}/deauthorize {app_key?} -> {shop_id, deauthorized}
         (409 if it was not authorized)
    GET|POST /_sandbox/apps/{app_key} {redirect_url?, access_token_lifetime? (seconds)}
         -> {app_key, app_secret, service_id, redirect_url, access_token_lifetime,
             authorization_url}
    GET  /_sandbox/shops/{shop_id}/inventory/{seller_sku} -> {seller_sku, available (total),
         warehouses: {warehouse_id: available}, committed (total), promotion_locked}
    POST /_sandbox/shops/{shop_id}/skus/{seller_sku}/promotion_lock {locked? (true)}
         -> the SKU's stock as above; while locked, Update Inventory answers code 0 with
         data.errors [{code 12052393, message, detail {sku_id, extra_errors}}] for an update
         lowering that SKU in any warehouse and applies the call's other SKUs
    GET  /_sandbox/shops/{shop_id}/orders?updated_since=<unix s> -> {orders: [order]}
         (each as GET /_sandbox/orders/{id} shows it, by update_time then id; with
         updated_since only those whose update_time >= it)
    POST /_sandbox/orders {shop_id, items:{seller_sku: units}, paid?, on_hold_flow?} -> order
    GET  /_sandbox/orders/{order_id}
    POST /_sandbox/orders/{order_id}/pay | fail_payment | buyer_cancel | fraud_cancel
    POST /_sandbox/orders/{order_id}/collect | deliver   (carrier: IN_TRANSIT, DELIVERED)
    POST /_sandbox/orders/{order_id}/request_cancellation -> the cancellation
    POST /_sandbox/orders/{order_id}/cancel_items {line_item_ids, role? SYSTEM|OPERATOR|SELLER,
         reason?} -> the cancellation record
    POST /_sandbox/shops/{shop_id}/packages/combine {order_ids} -> the package (detail)
    POST /_sandbox/packages/{package_id}/uncombine -> {package_id, order_ids}
    POST /_sandbox/orders/{order_id}/split {groups: [[line id, ...], ...]} -> {packages}
    GET  /_sandbox/packages/{package_id}
    POST /_sandbox/orders/{order_id}/returns {line_item_ids, return_type?, reason?} -> return
    POST /_sandbox/returns/{return_id}/advance {status | "COMPLETE"} -> the return
    GET  /_sandbox/returns/{return_id}
    GET  /_sandbox/cancellations/{cancel_id}
    GET  /_sandbox/clock        POST /_sandbox/clock/advance {seconds}  (ManualClock only, else 409)
    POST /_sandbox/tick
    GET|PUT /_sandbox/faults    (FaultSettings knobs)
    GET|PUT /_sandbox/settings  {webhook_cancel_spelling: CANCEL|CANCELLED}
    GET  /_sandbox/webhooks     (every delivery, with its attempts)
"""

from shopbridge_sandbox.tiktok.errors import NotFound, SandboxError
from shopbridge_sandbox.tiktok.models import ShopCredentials, SkuSpec
from shopbridge_sandbox.tiktok.sandbox import TikTokSandbox

__all__ = ["NotFound", "SandboxError", "ShopCredentials", "SkuSpec", "TikTokSandbox"]
