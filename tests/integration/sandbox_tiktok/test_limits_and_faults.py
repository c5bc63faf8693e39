"""Rate limiting (50 QPS per endpoint per app+shop, §6.3) and the API fault knobs."""

from __future__ import annotations

import httpx
import pytest

from shopbridge.clock import ManualClock
from shopbridge_sandbox.faults import Faults
from shopbridge_sandbox.tiktok import ShopCredentials, SkuSpec, TikTokSandbox

from .tiktok_http import SignedClient

SHOPS = "/authorization/202309/shops"
WAREHOUSES = "/logistics/202309/warehouses"


class FrozenMonotonic:
    """Real-time stand-in that moves only when told, so "within one second" is exact."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def monotonic() -> FrozenMonotonic:
    return FrozenMonotonic()


@pytest.fixture
def sandbox(clock: ManualClock, monotonic: FrozenMonotonic) -> TikTokSandbox:
    return TikTokSandbox(clock=clock, faults=Faults(seed=1), rate_limit_clock=monotonic)


def test_the_51st_request_in_a_second_is_throttled(api: SignedClient) -> None:
    """50 calls to one endpoint pass; the 51st in the same second is HTTP 429, code 36009002."""
    for _ in range(50):
        api.ok("GET", WAREHOUSES)
    assert api.error("GET", WAREHOUSES)[:2] == (429, 36009002)


def test_the_limit_is_per_endpoint(api: SignedClient) -> None:
    """A throttled endpoint does not throttle another one."""
    for _ in range(50):
        api.ok("GET", WAREHOUSES)
    api.error("GET", WAREHOUSES)
    api.ok("GET", SHOPS, cipher=None)


def test_the_limit_is_per_shop(api: SignedClient, sandbox: TikTokSandbox) -> None:
    """One shop's burst leaves another shop of the same app unthrottled."""
    other = sandbox.add_shop(name="Other", region="US")
    for _ in range(50):
        api.ok("GET", WAREHOUSES)
    api.error("GET", WAREHOUSES)
    api.ok("GET", WAREHOUSES, shop=other)


def test_the_window_slides_in_real_time(api: SignedClient, monotonic: FrozenMonotonic) -> None:
    """A second of real time after the burst, the endpoint answers again."""
    for _ in range(50):
        api.ok("GET", WAREHOUSES)
    monotonic.now += 0.999
    api.error("GET", WAREHOUSES)
    monotonic.now += 0.001
    api.ok("GET", WAREHOUSES)


def test_server_error_fault_answers_5xx_with_36009003(
    api: SignedClient, sandbox: TikTokSandbox
) -> None:
    """With api_error_rate=1 every call fails with HTTP 500 or 503 and code 36009003."""
    sandbox.faults.settings.update({"api_error_rate": 1.0})
    results = {api.error("GET", WAREHOUSES)[:2] for _ in range(10)}
    assert results <= {(500, 36009003), (503, 36009003)}
    assert len(results) == 2


def test_throttle_fault_answers_429(api: SignedClient, sandbox: TikTokSandbox) -> None:
    """With api_429_rate=1 the first call is already throttled."""
    sandbox.faults.settings.update({"api_429_rate": 1.0})
    assert api.error("GET", WAREHOUSES)[:2] == (429, 36009002)


def test_faulted_write_has_no_effect(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials
) -> None:
    """A call answered with an injected 5xx did not happen."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1}, paid=True, on_hold_flow=False)
    sandbox.faults.settings.update({"api_error_rate": 1.0})
    body = {"order_id": order_id, "cancel_reason": "seller_cancel_reason_out_of_stock"}
    api.error("POST", "/return_refund/202309/cancellations", body=body)
    assert sandbox.order(order_id)["status"] == "AWAITING_SHIPMENT"


def test_timeout_fault_answers_late_after_doing_the_work(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials
) -> None:
    """A timed-out call still applies its write: the client sees a timeout, TikTok saw the call."""
    sandbox.add_product(shop.shop_id, "Mug", [SkuSpec("MUG", "9.00", 1)])
    order_id = sandbox.create_order(shop.shop_id, {"MUG": 1}, paid=True, on_hold_flow=False)
    sandbox.faults.settings.update({"api_timeout_rate": 1.0, "api_timeout_seconds": 0.5})
    body = {"order_id": order_id, "cancel_reason": "seller_cancel_reason_out_of_stock"}
    api.http.timeout = httpx.Timeout(0.2)
    with pytest.raises(httpx.ReadTimeout):
        api.request("POST", "/return_refund/202309/cancellations", body=body)
    assert sandbox.order(order_id)["status"] == "CANCELLED"


def test_lost_answer_fault_answers_502_after_doing_the_work(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials
) -> None:
    """A call whose answer is lost is HTTP 502 with code 36009003, yet its write is applied."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1}, paid=True, on_hold_flow=False)
    sandbox.faults.settings.update({"api_lost_answer_rate": 1.0})
    body = {"order_id": order_id, "cancel_reason": "seller_cancel_reason_out_of_stock"}

    status, code, _ = api.error("POST", "/return_refund/202309/cancellations", body=body)

    assert (status, code) == (502, 36009003)
    assert sandbox.order(order_id)["status"] == "CANCELLED"


def test_an_earlier_fault_knob_wins_over_a_lost_answer(
    api: SignedClient, sandbox: TikTokSandbox, shop: ShopCredentials
) -> None:
    """The lost answer is rolled last: with api_error_rate 1 too, the call is a 5xx, not applied."""
    order_id = sandbox.create_order(shop.shop_id, {"TEE-RED-L": 1}, paid=True, on_hold_flow=False)
    sandbox.faults.settings.update({"api_error_rate": 1.0, "api_lost_answer_rate": 1.0})
    body = {"order_id": order_id, "cancel_reason": "seller_cancel_reason_out_of_stock"}

    status, _, _ = api.error("POST", "/return_refund/202309/cancellations", body=body)

    assert status in (500, 503)
    assert sandbox.order(order_id)["status"] == "AWAITING_SHIPMENT"
