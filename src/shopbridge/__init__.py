"""shopbridge: mirror TikTok Shop orders into Shopify, safely."""

__version__ = "0.1.0"
