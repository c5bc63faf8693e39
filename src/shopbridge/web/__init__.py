"""The ASGI app: health, webhook receivers (and, later, the merchant UI)."""
