"""The gateway's checks on every API call: app_key, sign, timestamp, token, shop_cipher (§1, §5)."""

from __future__ import annotations

from datetime import timedelta

from shopbridge.clock import ManualClock
from shopbridge.tiktok.signing import sign
from shopbridge_sandbox.serving import BackgroundServer
from shopbridge_sandbox.tiktok import ShopCredentials, TikTokSandbox

from .tiktok_http import SignedClient, loopback_client

SHOPS = "/authorization/202309/shops"
SEARCH = "/order/202309/orders/search"


def test_signed_request_lists_the_authorized_shop(api: SignedClient, shop: ShopCredentials) -> None:
    """A correctly signed call without shop_cipher lists the token's shop with its cipher."""
    data = api.ok("GET", SHOPS, cipher=None)
    assert data["shops"] == [
        {
            "id": shop.shop_id,
            "name": "Demo US",
            "region": "US",
            "seller_type": "LOCAL",
            "cipher": shop.shop_cipher,
            "code": data["shops"][0]["code"],
        }
    ]


def test_wrong_secret_is_an_invalid_sign(api: SignedClient) -> None:
    """A signature made with another secret is refused with 106001."""
    status, code, _ = api.error("GET", SHOPS, cipher=None, secret="not-the-secret")
    assert (status, code) == (401, 106001)


def test_body_bytes_changed_after_signing_is_an_invalid_sign(api: SignedClient) -> None:
    """The signature covers the exact body bytes: re-serialised JSON no longer verifies."""
    status, code, _ = api.error(
        "POST",
        SEARCH,
        {"page_size": "10"},
        {"order_status": "UNPAID"},
        tamper=b'{"order_status": "UNPAID"}',
    )
    assert (status, code) == (401, 106001)


def test_timestamp_just_inside_the_window_is_accepted(
    api: SignedClient, clock: ManualClock
) -> None:
    """Timestamps up to 5 min behind and 30 s ahead of the sandbox clock pass."""
    now = int(clock.now().timestamp())
    api.ok("GET", SHOPS, cipher=None, timestamp=now - 300)
    api.ok("GET", SHOPS, cipher=None, timestamp=now + 30)


def test_timestamp_older_than_five_minutes_is_refused(
    api: SignedClient, clock: ManualClock
) -> None:
    """A timestamp 5 min 1 s old is refused with 36009004 naming the timestamp."""
    status, code, message = api.error(
        "GET", SHOPS, cipher=None, timestamp=int(clock.now().timestamp()) - 301
    )
    assert (status, code) == (401, 36009004)
    assert "timestamp" in message


def test_timestamp_more_than_thirty_seconds_ahead_is_refused(
    api: SignedClient, clock: ManualClock
) -> None:
    """A timestamp 31 s in the future is refused with 36009004."""
    _, code, message = api.error(
        "GET", SHOPS, cipher=None, timestamp=int(clock.now().timestamp()) + 31
    )
    assert code == 36009004
    assert "timestamp" in message


def test_access_token_expires_seven_days_after_issue(api: SignedClient, clock: ManualClock) -> None:
    """The token works for 7 days of clock time, then every call answers 105002."""
    clock.advance(timedelta(days=7) - timedelta(seconds=1))
    api.ok("GET", SHOPS, cipher=None)
    clock.advance(timedelta(seconds=1))
    status, code, message = api.error("GET", SHOPS, cipher=None)
    assert (status, code) == (401, 105002)
    assert "expired" in message


def test_missing_token_is_refused(api: SignedClient) -> None:
    """A call without x-tts-access-token is refused with 36009004."""
    _, code, message = api.error("GET", SHOPS, cipher=None, token=None)
    assert code == 36009004
    assert "x-tts-access-token" in message


def test_unknown_app_key_is_refused(api: SignedClient, shop: ShopCredentials) -> None:
    """An app_key the sandbox never issued is refused with 36009004."""
    stranger = ShopCredentials(**{**shop.__dict__, "app_key": "unknownkey"})
    _, code, message = api.error("GET", SHOPS, cipher=None, shop=stranger)
    assert code == 36009004
    assert "app_key" in message


def test_shop_scoped_path_without_cipher_is_refused(api: SignedClient) -> None:
    """Order search without shop_cipher answers 106013."""
    _, code, _ = api.error("POST", SEARCH, {"page_size": "10"}, {}, cipher=None)
    assert code == 106013


def test_cipher_on_authorization_path_is_unexpected(api: SignedClient) -> None:
    """/authorization/ paths refuse a shop_cipher with 36009004 "Unexpected identifier"."""
    _, code, message = api.error("GET", SHOPS)
    assert code == 36009004
    assert message.startswith("Unexpected identifier")


def test_token_of_one_shop_with_cipher_of_another_is_a_mismatch(
    api: SignedClient, sandbox: TikTokSandbox
) -> None:
    """Shop A's token with shop B's cipher answers 101000 (HTTP 403)."""
    other = sandbox.add_shop(name="Other", region="US")
    status, code, _ = api.error("POST", SEARCH, {"page_size": "10"}, {}, cipher=other.shop_cipher)
    assert (status, code) == (403, 101000)


def test_unknown_path_and_wrong_method_answer_in_the_envelope(api: SignedClient) -> None:
    """An unknown path is 36009009 (404); a known path with the wrong method is 36009010 (405)."""
    assert api.error("GET", "/order/202309/nothing")[:2] == (404, 36009009)
    assert api.error("GET", SEARCH)[:2] == (405, 36009010)


def test_refresh_issues_a_new_token_with_absolute_expiry(
    server: BackgroundServer, shop: ShopCredentials, clock: ManualClock
) -> None:
    """/api/v2/token/refresh returns a working access token; *_expire_in are Unix timestamps."""
    clock.advance(timedelta(days=8))
    with loopback_client(server.base_url) as http:
        response = http.get(
            "/api/v2/token/refresh",
            params={
                "app_key": shop.app_key,
                "app_secret": shop.app_secret,
                "refresh_token": shop.refresh_token,
                "grant_type": "refresh_token",
            },
        )
    data = response.json()["data"]
    now = int(clock.now().timestamp())
    assert data["access_token_expire_in"] == now + 7 * 86400
    assert data["refresh_token_expire_in"] > data["access_token_expire_in"]
    renewed = ShopCredentials(**{**shop.__dict__, "access_token": data["access_token"]})
    client = SignedClient(server.base_url, renewed, clock)
    try:
        client.ok("GET", SHOPS, cipher=None)
    finally:
        client.close()


def test_auth_code_is_exchanged_once(
    server: BackgroundServer, shop: ShopCredentials, sandbox: TikTokSandbox
) -> None:
    """/api/v2/token/get turns an auth code into tokens; the same code a second time fails."""
    code = sandbox.issue_auth_code(shop.shop_id)
    params = {
        "app_key": shop.app_key,
        "app_secret": shop.app_secret,
        "auth_code": code,
        "grant_type": "authorized_code",
    }
    with loopback_client(server.base_url) as http:
        first = http.get("/api/v2/token/get", params=params).json()
        second = http.get("/api/v2/token/get", params=params).json()
    assert first["code"] == 0
    assert first["data"]["access_token"].startswith("TTP_")
    assert first["data"]["seller_base_region"] == "US"
    assert second["code"] != 0


def test_millisecond_timestamp_is_refused(api: SignedClient, clock: ManualClock) -> None:
    """The timestamp is Unix seconds (10 digits); milliseconds are refused with 36009004."""
    millis = int(clock.now().timestamp() * 1000)
    _, code, message = api.error("GET", SHOPS, cipher=None, timestamp=millis)
    assert code == 36009004
    assert "10 digits" in message


def test_body_without_json_content_type_is_refused(
    server: BackgroundServer, shop: ShopCredentials, clock: ManualClock
) -> None:
    """A body sent as text/plain answers 36009022 even when correctly signed."""
    query = {
        "app_key": shop.app_key,
        "timestamp": str(int(clock.now().timestamp())),
        "shop_cipher": shop.shop_cipher,
        "page_size": "10",
    }
    body = b"{}"
    query["sign"] = sign(shop.app_secret, SEARCH, query, body)
    headers = {"x-tts-access-token": shop.access_token, "content-type": "text/plain"}
    with loopback_client(server.base_url) as http:
        envelope = http.post(SEARCH, params=query, content=body, headers=headers).json()
    assert envelope["code"] == 36009022
