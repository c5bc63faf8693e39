"""Shopify adapter: .graphql operations, cost-aware GraphQL Admin client, webhook verification.

- `client.ShopifyClient(shop, access_token, base_url=None)`: async client of one shop's Admin
  GraphQL API 2026-07, one method per operation in `operations/` (one `.graphql` per file).
- `throttle`: the per-shop cost bucket the client waits on (`bucket_for(endpoint)`), and the
  client-side estimate of a query's requested cost.
- `errors`: ShopifyUserError, ShopifyGraphQLError, ShopifyAuthError, ShopifyQueryTooCostly
  (all ShopifyPermanent), ShopifyRetryable and ShopifyThrottled.
- `models`: typed inputs (OrderLine, Address, InventoryDelta, InventoryTarget, RefundLine) and
  results.
- `webhooks`: verify_shopify_hmac, parse_webhook → ShopifyWebhook with typed accessors.
"""
