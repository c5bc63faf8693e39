"""`shopbridge sandbox shopify --port N`: a seeded demo store on loopback.

Everything it prints is the same on every start (the app's client id and secret, the demo
shop's static token and its catalogue), so a bridge connected once stays connected across
restarts of the sandbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from shopbridge.clock import Clock, SystemClock
from shopbridge_sandbox.serving import listening_socket, serve_on
from shopbridge_sandbox.shopify.partner_app import PartnerApp
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


def demo_app(
    client_id: str | None = None,
    client_secret: str | None = None,
    token_lifetime: int | None = None,
    redirect_urls: Sequence[str] = (),
) -> PartnerApp:
    """The default app with whatever the command line overrides."""
    app = PartnerApp(redirect_urls=tuple(redirect_urls))
    if client_id:
        app = replace(app, client_id=client_id)
    if client_secret:
        app = replace(app, client_secret=client_secret)
    if token_lifetime:
        app = replace(app, access_token_lifetime=token_lifetime)
    return app


def demo_sandbox(
    clock: Clock | None = None, seeded: bool = True, partner_app: PartnerApp | None = None
) -> ShopifySandbox:
    sandbox = ShopifySandbox(clock=clock or SystemClock(), partner_app=partner_app)
    if seeded:
        sandbox.add_shop("demo", plan="standard")
        for title, variants in DEMO_PRODUCTS.items():
            sandbox.add_product("demo", title=title, variants=variants)
    return sandbox


def serve(
    port: int,
    host: str = "127.0.0.1",
    clock: Clock | None = None,
    seeded: bool = True,
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
    token_lifetime: int | None = None,
    redirect_urls: Sequence[str] = (),
) -> None:
    """Serve a demo shop (unless `seeded` is false) until interrupted; prints what a client
    needs to connect. `token_lifetime` is the expiring access tokens' `expires_in`."""
    app = demo_app(client_id, client_secret, token_lifetime, redirect_urls)
    sandbox = demo_sandbox(clock, seeded, app)
    listener = listening_socket(host, port)
    base_url = f"http://{host}:{listener.getsockname()[1]}"
    print(f"Shopify sandbox: {base_url}/admin/api/{API_VERSION}/graphql.json")
    print(f"  client id:     {app.client_id}")
    print(f"  client secret: {app.client_secret}")
    print(f"  authorize:     {base_url}/admin/oauth/authorize?client_id={app.client_id}")
    print(f"  token:         {base_url}/admin/oauth/access_token")
    if seeded:
        store = sandbox.credentials("demo")
        print(f"  shop domain:   {store.domain}")
        print(f"  access token:  {store.access_token}")
        print(f"  location:      {store.location_id}")
    print(f"  control API:   {base_url}/_sandbox/", flush=True)
    serve_on(sandbox.app, listener)
