"""Choosing the TikTok shipping provider for a Shopify tracking company."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Protocol, TypeVar


class Provider(Protocol):
    @property
    def provider_id(self) -> str: ...

    @property
    def name(self) -> str: ...


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


P = TypeVar("P", bound=Provider)


def match_provider(
    company: str | None, providers: Sequence[P], mapping: Mapping[str, str]
) -> P | None:
    """The provider for `company`: the merchant's mapping first, then a name match.

    The mapping's value may name a provider or give its id. Names match ignoring case,
    spaces and punctuation ("DHL eCommerce" = "dhl-ecommerce"); nothing fuzzier, because
    TikTok rejects tracking that does not fit the provider (tiktok_shop_api.md §4.3).
    """
    if not company:
        return None
    wanted = {company}
    for shopify_name, tiktok_name in mapping.items():
        if _squash(shopify_name) == _squash(company):
            wanted = {tiktok_name}
            break
    for candidate in wanted:
        for provider in providers:
            if provider.provider_id == candidate or _squash(provider.name) == _squash(candidate):
                return provider
    return None
