"""How an order mirror reads to a merchant: status words, badges, lines, failed actions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shopbridge.domain.codec import decode_mirror
from shopbridge.domain.mirror import FlagCode, OrderMirror, Phase
from shopbridge.domain.money import Money
from shopbridge.domain.tiktok_order import TikTokStatus
from shopbridge.store import ConnectionRecord, MirrorRow
from shopbridge.web.context import local_time

# TikTok's reject-cancellation reason keys (tiktok_shop_api.md §4.2, US list; other markets take
# the same keys, UK with a `_uk` suffix on seller cancel reasons only).
REJECT_REASONS = (
    ("seller_reject_apply_product_has_been_packed", "The parcel has already been packed"),
    (
        "order_manage_list_action_respond_popup_reject_reason_invalid_cancellation_reason",
        "The buyer's reason is not valid",
    ),
    ("order_manage_list_action_respond_popup_reject_reason_delivered", "Already delivered"),
    (
        "order_manage_list_action_respond_popup_reject_reason_buyer_agree",
        "The buyer agreed to keep the order",
    ),
)

_REQUEST_OUTCOMES = {
    "CANCELLATION_REQUEST_PENDING": "waiting for your answer",
    "CANCELLATION_REQUEST_SUCCESS": "approved: the order is cancelled",
    "CANCELLATION_REQUEST_COMPLETE": "approved: the order is cancelled",
    "CANCELLATION_REQUEST_CANCELLED": "withdrawn by the buyer",
    "REJECTED": "rejected",
}


@dataclass(frozen=True)
class Badge:
    label: str
    tone: str  # info | ok | warn | danger | muted (a CSS class)
    title: str = ""


@dataclass(frozen=True)
class FailedAction:
    kind: str
    message: str

    @property
    def label(self) -> str:
        return self.kind.replace("_", " ")


@dataclass(frozen=True)
class Line:
    sku: str
    name: str
    quantity: int
    unit_price: str
    amount: str


@dataclass(frozen=True)
class OrderView:
    row: MirrorRow
    mirror: OrderMirror | None
    timezone: str
    shopify_domain: str | None

    @property
    def order_id(self) -> str:
        return self.row.tiktok_order_id

    @property
    def cancelled(self) -> bool:
        return self.row.phase == Phase.CANCELLED.value or self.row.tiktok_status == "CANCELLED"

    @property
    def status(self) -> str:
        """One or two words for where the order stands, as the merchant would say it."""
        phase = self.row.phase
        if self.cancelled:
            return "Canceled"
        if phase == Phase.FULFILLED.value:
            return "Fulfilled"
        if phase == Phase.RELEASED.value:
            return "Ready to fulfil"
        if self.row.tiktok_status in (None, TikTokStatus.UNPAID.value):
            return "Awaiting payment"
        if self.row.holdback_ends_at is not None:
            return "Paid, in holdback"
        return "Reserving stock"

    @property
    def badges(self) -> list[Badge]:
        tz = self.timezone
        found: list[Badge] = []
        if self.cancelled:
            found.append(Badge("Canceled", "muted"))
        elif self.row.phase == Phase.FULFILLED.value:
            tracking = ", ".join(self.tracking)
            found.append(Badge(f"Fulfilled · {tracking}" if tracking else "Fulfilled", "ok"))
        elif self.row.phase == Phase.RELEASED.value:
            found.append(Badge("Ready to fulfil", "ok"))
        elif self.row.holdback_ends_at is not None and self.row.paid_at is not None:
            ends = self.row.holdback_ends_at
            found.append(
                Badge(
                    f"In holdback until {local_time(ends, tz, '%H:%M')}",
                    "info",
                    f"Released at {local_time(ends, tz)} ({tz}) if TikTok still says it is live",
                )
            )
        if self.row.cancel_request_deadline is not None and not self.cancelled:
            deadline = self.row.cancel_request_deadline
            found.append(
                Badge(
                    f"Cancellation requested · answer by {local_time(deadline, tz, '%d %b %H:%M')}",
                    "warn",
                    "TikTok approves the request itself if it is not answered by then",
                )
            )
        if self.row.needs_attention:
            found.append(Badge("Needs attention", "danger", self.attention))
        return found

    @property
    def detail_badges(self) -> list[Badge]:
        """The badges less the one that repeats the status words (the detail shows both)."""
        return [b for b in self.badges if b.label != self.status]

    @property
    def other_flags(self) -> list[str]:
        """Flag messages not already shown beside a Retry button."""
        if self.mirror is None:
            return []
        retried = {a.kind: a.message for a in self.failed_actions}
        return [f.message for f in self.mirror.flags if retried.get(f.kind) != f.message]

    @property
    def stuck(self) -> str | None:
        """Work about this order that failed outside its decisions, waiting for a Retry."""
        return self.row.stuck_reason

    @property
    def attention(self) -> str:
        reasons = [f.message for f in self.mirror.flags] if self.mirror else []
        reasons += [f"{a.label} failed: {a.message}" for a in self.failed_actions if a.message]
        reasons += [self.stuck] if self.stuck else []
        return "; ".join(dict.fromkeys(reasons)) or (self.row.attention_reason or "")

    @property
    def tracking(self) -> list[str]:
        if self.mirror is None:
            return []
        return [
            " ".join(part for part in (f.company, f.number) if part)
            for f in self.mirror.fulfilments
            if f.company or f.number
        ]

    @property
    def shopify_admin_url(self) -> str | None:
        order_id = self.row.shopify_order_id
        if not order_id or not self.shopify_domain:
            return None
        # Shopify's ids are GIDs (gid://shopify/Order/123); the admin URL takes the number.
        return f"https://{self.shopify_domain}/admin/orders/{order_id.rsplit('/', 1)[-1]}"

    @property
    def lines(self) -> list[Line]:
        order = None if self.mirror is None else self.mirror.tiktok
        if order is None:
            return []
        return [
            Line(
                line.seller_sku,
                line.product_name,
                line.quantity,
                money(line.unit_price),
                money(Money(line.unit_price.amount * line.quantity, line.unit_price.currency)),
            )
            for line in order.lines
        ]

    @property
    def total(self) -> str:
        order = None if self.mirror is None else self.mirror.tiktok
        return "—" if order is None or order.total is None else money(order.total)

    @property
    def failed_actions(self) -> list[FailedAction]:
        """Actions that failed for good and wait for the merchant's Retry, one per kind."""
        if self.mirror is None:
            return []
        messages: dict[str, str] = dict.fromkeys(self.mirror.blocked, "")
        for flag in self.mirror.flags:
            retryable = flag.code in (FlagCode.ACTION_FAILED, FlagCode.UNSUPPORTED_CARRIER)
            if flag.kind and retryable:
                messages[flag.kind] = messages.get(flag.kind) or flag.message
        return [FailedAction(kind, message) for kind, message in messages.items()]

    @property
    def cancel_request(self) -> dict[str, Any] | None:
        request = None if self.mirror is None else self.mirror.cancel_request
        if request is None:
            return None
        if request.decision == "approve" and request.is_pending:
            outcome = "you approved: cancelling in Shopify, then approving on TikTok"
        elif request.decision == "reject" and request.is_pending:
            outcome = "you rejected: sending the rejection to TikTok"
        else:
            outcome = _REQUEST_OUTCOMES.get(request.status, request.status.lower())
        return {
            "cancel_id": request.cancel_id,
            "role": request.role.lower(),
            "deadline": request.deadline,
            "outcome": outcome,
            "answerable": request.is_pending and request.decision is None,
            "reject_reason": request.reject_reason,
        }


def order_view(row: MirrorRow, connection: ConnectionRecord) -> OrderView:
    mirror = None if row.state is None else decode_mirror(dict(row.state))
    return OrderView(row, mirror, connection.timezone, connection.shopify_domain)


def money(value: Money) -> str:
    return f"{value.amount:,.2f} {value.currency}"
