"""`shopbridge sandbox shopify --port N`: a seeded demo store on loopback."""

from __future__ import annotations

import uvicorn

from shopbridge_sandbox.shopify.sandbox import ShopifySandbox
from shopbridge_sandbox.shopify.schema import API_VERSION
from shopbridge_sandbox.shopify.specs import VariantSpec

DEMO_PRODUCTS = {
    "Tee": [
        VariantSpec(sku="TEE-RED-M", price="19.99", available=25, title="Red / M"),
        VariantSpec(sku="TEE-RED-L", price="19.99", available=10, title="Red / L"),
    ],
    "Mug": [VariantSpec(sku="MUG-WHITE", price="12.50", available=40, title="White")],
}


def demo_sandbox() -> ShopifySandbox:
    sandbox = ShopifySandbox()
    sandbox.add_shop("demo", plan="standard")
    for title, variants in DEMO_PRODUCTS.items():
        sandbox.add_product("demo", title=title, variants=variants)
    return sandbox


def serve(port: int, host: str = "127.0.0.1") -> None:
    """Serve a demo shop until interrupted; prints what a client needs to connect."""
    sandbox = demo_sandbox()
    store = sandbox.credentials("demo")
    base_url = f"http://{host}:{port}"
    print(f"Shopify sandbox: {base_url}/admin/api/{API_VERSION}/graphql.json")
    print(f"  shop domain:   {store.domain}")
    print(f"  access token:  {store.access_token}")
    print(f"  client secret: {store.client_secret}")
    print(f"  location:      {store.location_id}")
    print(f"  control API:   {base_url}/_sandbox/")
    uvicorn.run(sandbox.app, host=host, port=port, log_level="warning")
