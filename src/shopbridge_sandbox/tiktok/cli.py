"""`serve()`: a seeded TikTok sandbox on a port until Ctrl-C (`shopbridge sandbox tiktok`).

What it prints is the same on every start: the app key and secret are fixed (or given), and
the shop, its tokens and its catalogue come from the seeded id stream in the same order.
"""

from __future__ import annotations

import hashlib

from shopbridge.clock import Clock, SystemClock
from shopbridge_sandbox.faults import Faults
from shopbridge_sandbox.serving import listening_socket, serve_on
from shopbridge_sandbox.tiktok.models import SkuSpec
from shopbridge_sandbox.tiktok.sandbox import TikTokSandbox

# Shaped like Partner Center's (a short hex key, a 40-hex secret); fixed, not random.
DEMO_APP_KEY = hashlib.sha256(b"shopbridge sandbox tiktok app key").hexdigest()[:14]
DEMO_APP_SECRET = hashlib.sha256(b"shopbridge sandbox tiktok app secret").hexdigest()[:40]
DEMO_PRODUCTS = (
    (
        "Classic Tee",
        [SkuSpec("TEE-RED-L", "19.99", 25, "Red, L"), SkuSpec("TEE-BLU-M", "19.99", 25, "Blue, M")],
    ),
    ("Canvas Tote", [SkuSpec("TOTE-NAT", "24.50", 10, "Natural")]),
    ("Ceramic Mug", [SkuSpec("MUG-WHT", "12.00", 40, "White")]),
)


def seeded_sandbox(
    clock: Clock | None = None,
    webhook_url: str | None = None,
    seeded: bool = True,
    *,
    app_key: str | None = None,
    app_secret: str | None = None,
    redirect_url: str | None = None,
    token_lifetime: float | None = None,
) -> TikTokSandbox:
    sandbox = TikTokSandbox(
        clock=clock or SystemClock(),
        faults=Faults(seed=1),
        app_key=app_key or DEMO_APP_KEY,
        app_secret=app_secret or DEMO_APP_SECRET,
        redirect_url=redirect_url,
        access_token_lifetime=token_lifetime,
    )
    if seeded:
        shop = sandbox.add_shop(name="Demo US", region="US", webhook_url=webhook_url)
        for title, skus in DEMO_PRODUCTS:
            sandbox.add_product(shop.shop_id, title, skus)
    return sandbox


def serve(
    port: int,
    host: str = "127.0.0.1",
    clock: Clock | None = None,
    webhook_url: str | None = None,
    seeded: bool = True,
    *,
    app_key: str | None = None,
    app_secret: str | None = None,
    redirect_url: str | None = None,
    token_lifetime: float | None = None,
) -> None:
    """Seeds one demo shop (unless `seeded` is false), prints the base URL and its credentials,
    serves until Ctrl-C. `token_lifetime` (seconds) is how long access tokens live.

    With a scaled clock the sandbox's time runs fast, so clients must sign with the same clock
    (`--clock scaled:FACTOR@EPOCH` on both sides): the timestamp window is 5 minutes.
    """
    sandbox = seeded_sandbox(
        clock,
        webhook_url,
        seeded,
        app_key=app_key,
        app_secret=app_secret,
        redirect_url=redirect_url,
        token_lifetime=token_lifetime,
    )
    # Listen before printing, so whoever reads the printout can connect at once.
    listener = listening_socket(host, port)
    port = listener.getsockname()[1]
    base_url = f"http://{host}:{port}"
    app = sandbox.app_settings()
    print(f"TikTok Shop sandbox on {base_url}", flush=not seeded)
    print(f"  app_key       {app['app_key']}")
    print(f"  app_secret    {app['app_secret']}")
    print(f"  service_id    {app['service_id']}")
    print(f"  authorize     {base_url}{app['authorization_url']}")
    print(f"  redirect_url  {app['redirect_url'] or '(none: set it to use the authorize page)'}")
    if seeded:
        shop = sandbox.credentials(sandbox.shop_ids()[0])
        print(f"  access_token  {shop.access_token}")
        print(f"  refresh_token {shop.refresh_token}")
        print(f"  shop_id       {shop.shop_id}  ({shop.name}, {shop.region})")
        print(f"  shop_cipher   {shop.shop_cipher}")
    print(f"  control API   {base_url}/_sandbox/", flush=True)
    serve_on(sandbox.app, listener)
