"""`shopbridge sandbox shopify --port N`: a seeded demo store on loopback."""

from __future__ import annotations

from shopbridge.clock import Clock, SystemClock
from shopbridge_sandbox.serving import listening_socket, serve_on
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


def demo_sandbox(clock: Clock | None = None, seeded: bool = True) -> ShopifySandbox:
    sandbox = ShopifySandbox(clock=clock or SystemClock())
    if seeded:
        sandbox.add_shop("demo", plan="standard")
        for title, variants in DEMO_PRODUCTS.items():
            sandbox.add_product("demo", title=title, variants=variants)
    return sandbox


def serve(
    port: int, host: str = "127.0.0.1", clock: Clock | None = None, seeded: bool = True
) -> None:
    """Serve a demo shop (unless `seeded` is false) until interrupted; prints what a client
    needs to connect."""
    sandbox = demo_sandbox(clock, seeded)
    listener = listening_socket(host, port)
    base_url = f"http://{host}:{listener.getsockname()[1]}"
    print(f"Shopify sandbox: {base_url}/admin/api/{API_VERSION}/graphql.json")
    if seeded:
        store = sandbox.credentials("demo")
        print(f"  shop domain:   {store.domain}")
        print(f"  access token:  {store.access_token}")
        print(f"  client secret: {store.client_secret}")
        print(f"  location:      {store.location_id}")
    print(f"  control API:   {base_url}/_sandbox/", flush=True)
    serve_on(sandbox.app, listener)
