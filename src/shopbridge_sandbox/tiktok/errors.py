"""The errors the sandbox answers with: TikTok's envelope code, its message, an HTTP status.

TikTok does not document the HTTP status of business errors (tiktok_shop_api.md §6.1, UNCONFIRMED);
the sandbox's choice, which a client must survive because it checks `code` whatever the status:

- gateway refusals (app_key, sign, timestamp, token, shop_cipher): HTTP 401, or 403 for a
  token/shop mismatch; malformed parameters: HTTP 400;
- business refusals from a service (order, fulfillment, cancellation, product codes): HTTP 200
  with a non-zero `code`, the way the official SDK samples show them;
- throttling: HTTP 429 (36009002); injected internal errors: HTTP 500 or 503 (36009003);
  an injected lost answer (the call was applied): HTTP 502 (36009003).
"""

from __future__ import annotations

from dataclasses import dataclass

# Common gateway codes (§6.2).
TOO_MANY_REQUESTS = 36009002
INTERNAL_ERROR = 36009003
INVALID_REQUEST = 36009004  # overloaded: branch on the message (§6.2)
INVALID_PATH = 36009009
INVALID_METHOD = 36009010
INVALID_CONTENT_TYPE = 36009022
TOKEN_SHOP_MISMATCH = 101000
TOKEN_DEAUTHORIZED = 105001
TOKEN_EXPIRED = 105002
INVALID_SIGN = 106001
SHOP_CIPHER_MISSING = 106013

# Orders and fulfillment (§4.1, §4.3).
ORDER_NOT_OWNED = 21008111
ALREADY_SHIPPED = 21011006
AFTER_SALE_REQUEST = 21011007
TRACKING_PROVIDER_MISMATCH = 21004015
ORDER_ON_HOLD = 21011044
# Tracking fixes (wave2 §5.5): 21011049 past the 72 h window, 21011051 "only once". The
# sandbox answers 21011052 ("limited number of times") for an order-level fix of a split order
# (sandbox choice, UNCONFIRMED).
TRACKING_FIX_TOO_LATE = 21011049
TRACKING_FIX_USED = 21011051
TRACKING_FIX_SPLIT_ORDER = 21011052
TRACKING_FIX_ORDER_CANCELLED = 21011042
PACKAGE_NOT_SHIPPED = 21011043
# Packages (wave2 §5.2, §5.4).
INVALID_FULFILL_PARAMS = 21011005  # the sandbox's answer for shipping a cancelled line item
PACKAGE_NOT_OWNED = 21011028
COMBINED_CANNOT_SPLIT = 21011046
SEVERAL_PACKAGES = 21011048
# Sandbox choices, UNCONFIRMED: the docs name no code for shipping an unpaid or a cancelled order,
# nor for an unknown shipping provider.
ORDER_NOT_SHIPPABLE = 21011001
UNKNOWN_SHIPPING_PROVIDER = 21011021
UNKNOWN_DELIVERY_OPTION = 21001005

# Cancellations (§4.2).
INVALID_ORDER_STATUS = 25001003
CANCEL_IN_PROCESS = 25001011
CANCEL_REASON_MISMATCH = 25001021
SHIPPED_CANNOT_CANCEL = 25001045
ORDER_FINISHED = 25001051
PARTIAL_CANCEL_REFUSED = 25005010
PARTIAL_CANCEL_OVER_LIMIT = 25005011
STATUS_CANNOT_APPROVE = 25011012
REQUEST_ALREADY_CANCELLED = 25020009
# Sandbox choice, UNCONFIRMED: TikTok retired Reject Cancellation for US shops (31 Mar 2024,
# §4.2) without publishing the code it now answers; this one says what to do instead.
US_REJECT_RETIRED = 25001060
UNKNOWN_CANCELLATION = 25001002

# Products (§4.4).
ALL_WAREHOUSES_REQUIRED = 12019028
PROMOTION_LOCKED = 12052393
# Sandbox choices, UNCONFIRMED.
PRODUCT_NOT_FOUND = 12052048
SKU_NOT_IN_PRODUCT = 12052230
INVALID_QUANTITY = 12052251


@dataclass
class ApiError(Exception):
    """A refusal, rendered as the TikTok envelope with `data: null`."""

    code: int
    message: str
    http_status: int = 200

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def gateway(code: int, message: str) -> ApiError:
    """A refusal by TikTok's API gateway, before any service saw the request."""
    status = 403 if code == TOKEN_SHOP_MISMATCH else 401
    return ApiError(code, message, status)


def bad_parameter(message: str) -> ApiError:
    return ApiError(INVALID_REQUEST, f"Invalid request parameters. {message}", 400)


class SandboxError(Exception):
    """A control action that the order's state does not allow (the control API answers 409)."""


class NotFound(SandboxError):
    """No such shop, product, SKU, order or cancellation (the control API answers 404)."""
