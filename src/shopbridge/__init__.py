"""shopbridge: mirror TikTok Shop orders into Shopify, safely."""

# The one place the version is written: pyproject.toml reads it from here (`dynamic`),
# `shopbridge --version` prints it, and CHANGELOG.md's newest release is this one (a test checks).
__version__ = "0.1.0"
