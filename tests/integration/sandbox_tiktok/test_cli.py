"""`shopbridge sandbox tiktok --port PORT` serves a seeded shop and prints its credentials."""

from __future__ import annotations

import socket
import subprocess
import sys

from .tiktok_http import loopback_client


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_prints_credentials_and_answers() -> None:
    """The printed app_key and base URL reach a running sandbox with the demo shop's stock."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "shopbridge", "sandbox", "tiktok", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        printed: dict[str, str] = {}
        for line in process.stdout:
            parts = line.split()
            if len(parts) >= 2:
                printed[parts[0]] = parts[1]
            if line.strip().startswith("control API"):
                break
        assert printed["TikTok"] == "Shop"
        with loopback_client(f"http://127.0.0.1:{port}") as http:
            stock = http.get(f"/_sandbox/shops/{printed['shop_id']}/inventory/TEE-RED-L").json()
            refused = http.get(
                "/authorization/202309/shops", params={"app_key": printed["app_key"]}
            )
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
    assert (stock["seller_sku"], stock["available"]) == ("TEE-RED-L", 25)
    # The printed app_key is known: the refusal is about the missing sign, not the app.
    assert refused.json()["code"] == 36009004
    assert "sign" in refused.json()["message"]
