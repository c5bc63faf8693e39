"""`serve()`: a seeded TikTok sandbox on a port until Ctrl-C (`shopbridge sandbox tiktok`)."""

from __future__ import annotations

from shopbridge.clock import Clock, SystemClock
from shopbridge_sandbox.faults import Faults
from shopbridge_sandbox.serving import listening_socket, serve_on
from shopbridge_sandbox.tiktok.models import SkuSpec
from shopbridge_sandbox.tiktok.sandbox import TikTokSandbox

DEMO_PRODUCTS = (
    (
        "Classic Tee",
        [SkuSpec("TEE-RED-L", "19.99", 25, "Red, L"), SkuSpec("TEE-BLU-M", "19.99", 25, "Blue, M")],
    ),
    ("Canvas Tote", [SkuSpec("TOTE-NAT", "24.50", 10, "Natural")]),
    ("Ceramic Mug", [SkuSpec("MUG-WHT", "12.00", 40, "White")]),
)


def seeded_sandbox(
    clock: Clock | None = None, webhook_url: str | None = None, seeded: bool = True
) -> TikTokSandbox:
    sandbox = TikTokSandbox(clock=clock or SystemClock(), faults=Faults(seed=1))
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
) -> None:
    """Seeds one demo shop (unless `seeded` is false), prints the base URL and its credentials,
    serves until Ctrl-C.

    With a scaled clock the sandbox's time runs fast, so clients must sign with the same clock
    (`--clock scaled:FACTOR@EPOCH` on both sides): the timestamp window is 5 minutes.
    """
    sandbox = seeded_sandbox(clock, webhook_url, seeded)
    # Listen before printing, so whoever reads the printout can connect at once.
    listener = listening_socket(host, port)
    port = listener.getsockname()[1]
    print(f"TikTok Shop sandbox on http://{host}:{port}", flush=not seeded)
    if seeded:
        shop = sandbox.credentials(sandbox.shop_ids()[0])
        print(f"  app_key       {shop.app_key}")
        print(f"  app_secret    {shop.app_secret}")
        print(f"  access_token  {shop.access_token}")
        print(f"  refresh_token {shop.refresh_token}")
        print(f"  shop_id       {shop.shop_id}  ({shop.name}, {shop.region})")
        print(f"  shop_cipher   {shop.shop_cipher}")
    print(f"  control API   http://{host}:{port}/_sandbox/", flush=True)
    serve_on(sandbox.app, listener)
