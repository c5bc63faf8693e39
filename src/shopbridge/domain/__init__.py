"""The pure core: how one TikTok order is mirrored into Shopify.

No IO, no clock reads, no framework imports. The one entry point is
`transition(mirror, event, now, policy) -> Decision`.
"""
