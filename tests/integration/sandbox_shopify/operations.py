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


ORDER_LINES = """
query Lines($id: ID!) {
  order(id: $id) {
    id updatedAt displayFulfillmentStatus merchantEditable merchantEditableErrors edited
    lineItems(first: 10) {
      nodes { id sku quantity currentQuantity unfulfilledQuantity refundableQuantity }
    }
    fulfillmentOrders(first: 5) {
      nodes { id status fulfillmentHolds { id handle }
              lineItems(first: 10) { nodes { id sku totalQuantity remainingQuantity } } }
    }
    refunds(first: 5) {
      id note createdAt
      refundLineItems(first: 10) {
        nodes { quantity restockType restocked location { id } lineItem { id sku } }
      }
    }
  }
}
"""

EDIT_BEGIN = """
mutation Begin($id: ID!) {
  orderEditBegin(id: $id) {
    calculatedOrder {
      id
      lineItems(first: 10) {
        nodes { id sku quantity editableQuantity editableQuantityBeforeChanges restockable
                restocking variant { id } }
      }
    }
    orderEditSession { id }
    userErrors { field message }
  }
}
"""

EDIT_SET = """
mutation Set($id: ID!, $line: ID!, $quantity: Int!, $restock: Boolean) {
  orderEditSetQuantity(id: $id, lineItemId: $line, quantity: $quantity, restock: $restock) {
    calculatedLineItem {
      id quantity editableQuantity restocking
      stagedChanges {
        __typename
        ... on OrderStagedChangeDecrementItem { delta restock lineItem { id } }
      }
    }
    calculatedOrder { id subtotalLineItemsQuantity }
    orderEditSession { id }
    userErrors { field message }
  }
}
"""

EDIT_COMMIT = """
mutation Commit($id: ID!, $note: String) {
  orderEditCommit(id: $id, notifyCustomer: false, staffNote: $note) {
    order { id }
    successMessages
    userErrors { field message }
  }
}
"""

REFUND = """
mutation Refund($input: RefundInput!, $key: String!) {
  refundCreate(input: $input) @idempotent(key: $key) {
    refund {
      id note
      refundLineItems(first: 10) { nodes { quantity restockType restocked location { id } } }
    }
    order { id }
    userErrors { field message }
  }
}
"""


def ship_lines(fo_id: str, lines: list[tuple[str, int]], company: str = "USPS") -> dict[str, Any]:
    """FulfillmentInput for some units of some lines of one fulfillment order."""
    return {
        "lineItemsByFulfillmentOrder": [
            {
                "fulfillmentOrderId": fo_id,
                "fulfillmentOrderLineItems": [{"id": i, "quantity": q} for i, q in lines],
            }
        ],
        "notifyCustomer": False,
        "trackingInfo": {"company": company, "number": "9400111899223100000000"},
    }
