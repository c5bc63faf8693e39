"""Value objects of the sandbox's Python API: what a test asks for and what it gets back."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class StoreCredentials:
    name: str
    domain: str
    access_token: str
    client_secret: str
    plan: str
    location_ids: tuple[str, ...]

    @property
    def location_id(self) -> str:
        """The primary location, where orders are assigned."""
        return self.location_ids[0]


@dataclass(frozen=True)
class VariantSpec:
    sku: str
    price: str | Decimal = "0.00"
    available: int = 0  # at the shop's primary location
    title: str | None = None
    inventory_policy: str = "DENY"  # DENY | CONTINUE
    tracked: bool = True
