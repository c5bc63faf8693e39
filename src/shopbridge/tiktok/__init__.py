"""TikTok Shop adapter: request signing, API client, webhook verification, payload models."""
