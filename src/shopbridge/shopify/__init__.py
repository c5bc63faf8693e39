"""Shopify adapter: .graphql operations, cost-aware GraphQL Admin client, webhook verification."""
