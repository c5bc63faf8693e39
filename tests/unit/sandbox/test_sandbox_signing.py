"""The sandbox checks TikTok signatures with its own code, against the published vectors."""

from shopbridge_sandbox.tiktok.signing import request_sign, webhook_authorization

JSON = "application/json"


def test_official_vector_v1() -> None:
    """The official documentation example signs to the published digest."""
    query = {"app_key": "29a39d", "timestamp": "1623812664"}
    assert (
        request_sign("e59af819cc", "/authorization/202309/shops", query, b"", JSON)
        == "b596b73e0cc6de07ac26f036364178ab16b0a907af13d43f0a0cd2345f582dc8"
    )


def test_ecomphp_vector_v4() -> None:
    """EcomPHP's test vector: one query parameter, no body."""
    assert (
        request_sign("app_secret", "/test-api", {"foo": "bar"}, b"", JSON)
        == "d3cb7fe11ecae942802ceeca67e7cf10120cc12f1517d45fbc1c8cfe5413c80f"
    )


def test_sign_and_access_token_stay_out_and_the_body_goes_in() -> None:
    """`sign` and `access_token` are not signed; the body bytes are, except for multipart."""
    base = {"app_key": "k", "timestamp": "1"}
    signed = request_sign("s", "/p", base, b"{}", JSON)
    assert signed == request_sign(
        "s", "/p", {**base, "sign": "x", "access_token": "t"}, b"{}", JSON
    )
    assert signed != request_sign("s", "/p", base, b"{ }", JSON)
    multipart = "multipart/form-data; boundary=b"
    assert request_sign("s", "/p", base, b"xx", multipart) == request_sign(
        "s", "/p", base, b"", JSON
    )


def test_webhook_authorization_is_hmac_of_key_and_body() -> None:
    """The webhook header covers the app key and the exact body bytes."""
    body = b'{"type":1}'
    assert webhook_authorization("key", "secret", body) != webhook_authorization(
        "key", "secret", body + b" "
    )
    assert webhook_authorization("key", "secret", body) != webhook_authorization(
        "other", "secret", body
    )
