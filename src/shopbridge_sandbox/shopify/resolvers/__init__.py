"""GraphQL resolvers of the Shopify sandbox, one module per concept; importing registers them."""

from shopbridge_sandbox.shopify.resolvers import (  # noqa: F401 - imported to register resolvers
    catalog,
    editing,
    fulfillment,
    inventory,
    nodes,
    orders,
    refunds,
    webhooks,
)
from shopbridge_sandbox.shopify.resolvers.registry import (
    RequestContext,
    field_resolver,
    type_resolver,
)

__all__ = ["RequestContext", "field_resolver", "type_resolver"]
