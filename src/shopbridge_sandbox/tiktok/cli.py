"""`serve()`: a seeded TikTok sandbox on a port until Ctrl-C (`shopbridge sandbox tiktok`)."""

from __future__ import annotations

import socket

import uvicorn

from shopbridge.clock import ScaledClock, SystemClock
from shopbridge_sandbox.faults import Faults
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


def seeded_sandbox(clock_factor: float = 1.0, webhook_url: str | None = None) -> TikTokSandbox:
    clock = SystemClock() if clock_factor == 1.0 else ScaledClock(clock_factor)
    sandbox = TikTokSandbox(clock=clock, faults=Faults(seed=1))
    shop = sandbox.add_shop(name="Demo US", region="US", webhook_url=webhook_url)
    for title, skus in DEMO_PRODUCTS:
        sandbox.add_product(shop.shop_id, title, skus)
    return sandbox


def serve(
    port: int,
    host: str = "127.0.0.1",
    clock_factor: float = 1.0,
    webhook_url: str | None = None,
) -> None:
    """Seeds one demo shop, prints the base URL and its credentials, serves until Ctrl-C.

    With `clock_factor` != 1 the sandbox's clock runs fast, so clients must sign with the
    sandbox's time (GET /_sandbox/clock), not the wall clock: the timestamp window is 5 min.
    """
    sandbox = seeded_sandbox(clock_factor, webhook_url)
    # Listen before printing, so whoever reads the printout can connect at once.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Inherited by accepted sockets: without it keep-alive answers stall ~40 ms (Nagle meeting
    # delayed ACKs), since asyncio sets nodelay only on sockets created with IPPROTO_TCP.
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.bind((host, port))
    listener.listen(128)
    shop = sandbox.credentials(sandbox.shop_ids()[0])
    print(f"TikTok Shop sandbox on http://{host}:{port}  (clock x{clock_factor:g})")
    print(f"  app_key       {shop.app_key}")
    print(f"  app_secret    {shop.app_secret}")
    print(f"  access_token  {shop.access_token}")
    print(f"  refresh_token {shop.refresh_token}")
    print(f"  shop_id       {shop.shop_id}  ({shop.name}, {shop.region})")
    print(f"  shop_cipher   {shop.shop_cipher}")
    print(f"  control API   http://{host}:{port}/_sandbox/", flush=True)
    server = uvicorn.Server(uvicorn.Config(sandbox.app, log_level="warning"))
    try:
        server.run(sockets=[listener])
    finally:
        listener.close()
