"""The holdback policy of one connection: TikTok's windows as configuration, never below them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shopbridge.domain.tiktok_order import SHIPPABLE, TikTokOrder, TikTokStatus

# TikTok policy (workflow.md "The holdback cannot be switched off"): buyers cancel freely for one
# hour after payment, and unpaid orders are cancelled by TikTok after 24 hours.
MIN_HOLDBACK = timedelta(minutes=60)
MIN_UNPAID_WINDOW = timedelta(hours=24)
# How long to wait before asking TikTok again when an expected change has not come yet.
RECHECK_AFTER = timedelta(minutes=5)
UNPAID_RECHECK_AFTER = timedelta(hours=1)

REGIONS_WITHOUT_API_REJECT = frozenset({"US"})
# Markets where a seller may cancel single items of an order (out of stock; tiktok wave2 §4).
REGIONS_WITH_ITEM_CANCEL = frozenset({"US", "GB", "UK"})


class PolicyError(ValueError):
    """A setting that would break TikTok's guarantees."""


@dataclass(frozen=True)
class Policy:
    holdback: timedelta = MIN_HOLDBACK
    unpaid_window: timedelta = MIN_UNPAID_WINDOW
    region: str = "US"
    # Create the Shopify order only once the holdback is over (for 3PLs that ignore holds);
    # until then the stock sync keeps TikTok's count right.
    create_after_holdback: bool = False
    # Put a completed return's units back on sale in Shopify automatically.
    restock_returns: bool = False

    def __post_init__(self) -> None:
        if self.holdback < MIN_HOLDBACK:
            raise PolicyError(
                f"the holdback must be at least 60 minutes (TikTok's buyer-remorse hour); "
                f"got {self.holdback}"
            )
        if self.unpaid_window < MIN_UNPAID_WINDOW:
            raise PolicyError(
                f"the unpaid window must be at least 24 hours; got {self.unpaid_window}"
            )

    @classmethod
    def from_minutes(
        cls,
        holdback_minutes: int = 60,
        unpaid_window_minutes: int = 1440,
        region: str = "US",
        *,
        create_after_holdback: bool = False,
        restock_returns: bool = False,
    ) -> Policy:
        return cls(
            holdback=timedelta(minutes=holdback_minutes),
            unpaid_window=timedelta(minutes=unpaid_window_minutes),
            region=region.upper(),
            create_after_holdback=create_after_holdback,
            restock_returns=restock_returns,
        )

    def holdback_ends_at(self, order: TikTokOrder) -> datetime | None:
        return None if order.paid_time is None else order.paid_time + self.holdback

    @property
    def rejects_by_api(self) -> bool:
        return self.region.upper() not in REGIONS_WITHOUT_API_REJECT

    @property
    def cancels_items(self) -> bool:
        return self.region.upper() in REGIONS_WITH_ITEM_CANCEL

    def out_of_stock_reason(self, status: TikTokStatus) -> str:
        """TikTok's seller cancel reason key for "out of stock" in this order status (§4.2)."""
        key = (
            "seller_cancel_unpaid_reason_out_of_stock"
            if status is TikTokStatus.UNPAID
            else "seller_cancel_reason_out_of_stock"
        )
        return f"{key}_uk" if self.region.upper() in ("GB", "UK") else key


def release_blocker(order: TikTokOrder, policy: Policy, now: datetime) -> str | None:
    """Why this freshly read order must not be released now, or None when it may be (rules 3, 4).

    The release executor calls this on the order it has just re-read from TikTok, immediately
    before touching Shopify.
    """
    if order.status is TikTokStatus.CANCELLED:
        return "TikTok has cancelled the order"
    if order.paid_time is None or order.status is TikTokStatus.UNPAID:
        return "TikTok does not report the order as paid"
    if order.is_buyer_request_cancel:
        return "a buyer cancellation request is pending on TikTok"
    if order.status is TikTokStatus.ON_HOLD:
        return "TikTok still has the order ON_HOLD (the buyer may cancel freely)"
    if order.status not in SHIPPABLE:
        return f"TikTok status {order.status} is not ready to ship"
    ends = order.paid_time + policy.holdback
    if now < ends:
        return f"the holdback runs until {ends.isoformat()}"
    return None
