"""Faithful TikTok Shop and Shopify sandboxes: HTTP apps with a control API and fault knobs.

Both speak their platform's real wire format (signatures, envelopes, error codes, rate
limits) so shopbridge is tested over real HTTP on loopback. `faults` and `webhooks`
hold what the two have in common: fault knobs and at-least-once webhook delivery.
"""
