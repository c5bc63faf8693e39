from shopbridge.tiktok.signing import sign, string_to_sign, verify_webhook, webhook_signature


def test_official_vector_v1() -> None:
    """The official documentation example signs to the published digest."""
    query = {"app_key": "29a39d", "timestamp": "1623812664"}
    assert (
        string_to_sign("/authorization/202309/shops", query)
        == b"/authorization/202309/shopsapp_key29a39dtimestamp1623812664"
    )
    assert (
        sign("e59af819cc", "/authorization/202309/shops", query)
        == "b596b73e0cc6de07ac26f036364178ab16b0a907af13d43f0a0cd2345f582dc8"
    )


def test_ecomphp_vector_v4() -> None:
    """EcomPHP's test vector: one query parameter, no body."""
    assert (
        sign("app_secret", "/test-api", {"foo": "bar"})
        == "d3cb7fe11ecae942802ceeca67e7cf10120cc12f1517d45fbc1c8cfe5413c80f"
    )


def test_sign_and_access_token_are_not_signed() -> None:
    """`sign` and `access_token` never enter the string to sign."""
    base = {"app_key": "k", "timestamp": "1"}
    assert sign("s", "/p", base) == sign("s", "/p", {**base, "sign": "x", "access_token": "t"})


def test_body_bytes_are_signed_exactly() -> None:
    """Re-serialising the body with other whitespace changes the signature."""
    q = {"app_key": "k", "timestamp": "1"}
    assert sign("s", "/p", q, b'{"a":1}') != sign("s", "/p", q, b'{"a": 1}')


def test_multipart_body_is_not_signed() -> None:
    """A multipart upload is signed over path and query only."""
    q = {"app_key": "k", "timestamp": "1"}
    assert sign("s", "/p", q, b"xx", "multipart/form-data; boundary=b") == sign("s", "/p", q)


def test_webhook_signature_round_trip() -> None:
    """A webhook verifies against its raw bytes and fails when tampered or unsigned."""
    body = b'{"type":1,"data":{"order_id":"1"}}'
    header = webhook_signature("key", "secret", body)
    assert verify_webhook("key", "secret", body, header)
    assert not verify_webhook("key", "secret", body + b" ", header)
    assert not verify_webhook("key", "secret", body, "")
    assert not verify_webhook("key", "secret", body, None)
    assert not verify_webhook("key", "other", body, header)
