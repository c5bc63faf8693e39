"""The Admin GraphQL operations the tests send, written as shopbridge's client would."""

from __future__ import annotations

from typing import Any

ORDER_FIELDS = """
  id name sourceIdentifier tags displayFinancialStatus displayFulfillmentStatus canMarkAsPaid
  cancelledAt cancelReason closed
  totalPriceSet { shopMoney { amount currencyCode } }
  totalOutstandingSet { shopMoney { amount } }
  fulfillmentOrders(first: 5) {
    nodes { id status supportedActions { action }
            fulfillmentHolds { id handle reason reasonNotes heldByRequestingApp } }
  }
"""

ORDER_CREATE = f"""
mutation Mirror($order: OrderCreateOrderInput!, $options: OrderCreateOptionsInput) {{
  orderCreate(order: $order, options: $options) {{
    order {{ {ORDER_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}
"""

ORDER = f"query Order($id: ID!) {{ order(id: $id) {{ {ORDER_FIELDS} }} }}"

HOLD = """
mutation Hold($id: ID!, $hold: FulfillmentOrderHoldInput!) {
  fulfillmentOrderHold(id: $id, fulfillmentHold: $hold) {
    fulfillmentHold { id handle reason }
    fulfillmentOrder { id status }
    userErrors { field message code }
  }
}
"""

RELEASE = """
mutation Release($id: ID!, $holdIds: [ID!]) {
  fulfillmentOrderReleaseHold(id: $id, holdIds: $holdIds) {
    fulfillmentOrder { id status }
    userErrors { field message code }
  }
}
"""

MARK_PAID = """
mutation Paid($id: ID!) {
  orderMarkAsPaid(input: {id: $id}) {
    order { id displayFinancialStatus canMarkAsPaid totalOutstandingSet { shopMoney { amount } }
            transactions(first: 5) { kind status amountSet { shopMoney { amount } } } }
    userErrors { field message }
  }
}
"""

CANCEL = """
mutation Cancel($id: ID!, $restock: Boolean!) {
  orderCancel(orderId: $id, reason: CUSTOMER, restock: $restock, notifyCustomer: false,
              refundMethod: {originalPaymentMethodsRefund: true}, staffNote: "TikTok") {
    job { id done }
    orderCancelUserErrors { field message code }
  }
}
"""

JOB = "query Job($id: ID!) { job(id: $id) { id done } }"

FULFILL = """
mutation Ship($f: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $f) {
    fulfillment { id status trackingInfo { company number url } }
    userErrors { field message }
  }
}
"""


def order_input(
    variant_id: str, quantity: int = 2, source_identifier: str = "577000111222333"
) -> dict[str, Any]:
    return {
        "currency": "USD",
        "financialStatus": "PENDING",
        "sourceIdentifier": source_identifier,
        "tags": ["tiktok-shop"],
        "lineItems": [
            {
                "variantId": variant_id,
                "quantity": quantity,
                "requiresShipping": True,
                "priceSet": {"shopMoney": {"amount": "19.99", "currencyCode": "USD"}},
            }
        ],
    }


def decrement(policy: str = "DECREMENT_OBEYING_POLICY") -> dict[str, Any]:
    return {"inventoryBehaviour": policy, "sendReceipt": False, "sendFulfillmentReceipt": False}
