"""pallycon-apidata: the guide's AES-256-CBC + SHA-256 envelope, byte for byte."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from doverunner import ConfigurationError, crypto

SITE_KEY = "localdoverunnersitekey0123456789"
ACCESS_KEY = "local-access-key-0123456789"
SITE_ID = "DEMO"
KOREAN_PAYLOAD = '{"title":"탐지 테스트","file_extension":"mp4","demo_contents":false}'
# Computed independently with OpenSSL:
#   printf '%s' "$KOREAN_PAYLOAD" | openssl enc -aes-256-cbc -K <hex of SITE_KEY> -iv <hex of 0123456789abcdef> | base64
KOREAN_CIPHERTEXT = (
    "AFWCcqGsXdoyELIbkMUGmkoynnAIAOwX+9Z7VvK2d453BJ/zOU3usqx7JD6pQ1Mr4UnfyNWAwbtSbe+9It+dkqATWWOJtQivFPw5pSDK8rI="
)
#   printf '%s' "${ACCESS_KEY}DEMO${KOREAN_CIPHERTEXT}2026-11-24T12:00:00Z" | openssl dgst -sha256 -binary | base64
KOREAN_HASH = "6oTQtAXSbxaQAeE9wRs9Dl7T1dYeDlwJ+qQ8z2cS0zs="
FIXED_NOW = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(payload=st.dictionaries(st.text(), json_values, max_size=6))
def test_any_unicode_json_round_trips_through_the_header(payload: dict[str, Any]) -> None:
    header = crypto.encode_api_data(payload, site_id=SITE_ID, site_key=SITE_KEY, access_key=ACCESS_KEY)

    assert crypto.decode_api_data(header, site_id=SITE_ID, site_key=SITE_KEY, access_key=ACCESS_KEY) == payload


@given(text=st.text())
def test_any_unicode_text_round_trips_through_aes(text: str) -> None:
    assert crypto.decrypt(SITE_KEY, crypto.encrypt(SITE_KEY, text)) == text


def test_encryption_of_a_korean_title_matches_openssl_byte_for_byte() -> None:
    # PKCS#7 padding goes over the UTF-8 bytes, not the characters (DoveRunner's own sample gets this wrong).
    assert crypto.encrypt(SITE_KEY, KOREAN_PAYLOAD) == KOREAN_CIPHERTEXT


def test_encryption_of_ascii_matches_openssl() -> None:
    assert crypto.encrypt(SITE_KEY, "ascii only") == "4O2o+vmEq0ZDj2gApwsxhw=="


def test_hash_is_base64_of_binary_sha256_of_access_key_site_id_data_timestamp() -> None:
    assert crypto.request_hash(ACCESS_KEY, SITE_ID, KOREAN_CIPHERTEXT, "2026-11-24T12:00:00Z") == KOREAN_HASH


def test_header_is_base64_json_of_data_timestamp_and_hash() -> None:
    payload = json.loads(KOREAN_PAYLOAD)

    header = crypto.encode_api_data(payload, site_id=SITE_ID, site_key=SITE_KEY, access_key=ACCESS_KEY, now=FIXED_NOW)

    assert json.loads(base64.b64decode(header)) == {
        "data": KOREAN_CIPHERTEXT,
        "timestamp": "2026-11-24T12:00:00Z",
        "hash": KOREAN_HASH,
    }


def test_timestamp_is_utc_in_the_guides_format() -> None:
    seoul = datetime(2026, 11, 24, 21, 5, 9, tzinfo=UTC).astimezone()

    assert crypto.timestamp(seoul) == "2026-11-24T21:05:09Z"


@pytest.mark.parametrize("key", ["short", "x" * 31, "x" * 33, "가" * 16])
def test_site_key_that_is_not_32_bytes_is_a_configuration_error(key: str) -> None:
    with pytest.raises(ConfigurationError, match="must be 32 bytes") as caught:
        crypto.encrypt(key, "{}")

    assert key not in str(caught.value)


def test_data_encrypted_with_another_site_key_fails_as_a1006() -> None:
    header = crypto.encode_api_data({"a": 1}, site_id=SITE_ID, site_key="y" * 32, access_key=ACCESS_KEY)

    with pytest.raises(crypto.ApiDataError) as caught:
        crypto.decode_api_data(header, site_id=SITE_ID, site_key=SITE_KEY, access_key=ACCESS_KEY)

    assert caught.value.code == "A1006"


def test_hash_made_with_another_access_key_fails_as_a1007() -> None:
    header = crypto.encode_api_data({"a": 1}, site_id=SITE_ID, site_key=SITE_KEY, access_key="other")

    with pytest.raises(crypto.ApiDataError) as caught:
        crypto.decode_api_data(header, site_id=SITE_ID, site_key=SITE_KEY, access_key=ACCESS_KEY)

    assert caught.value.code == "A1007"


@pytest.mark.parametrize(
    "header",
    [
        "not base64!",
        base64.b64encode(b"not json").decode(),
        base64.b64encode(b"[1, 2]").decode(),
        base64.b64encode(b'{"data": "x", "timestamp": "2026-11-24T12:00:00Z"}').decode(),
        base64.b64encode(b'{"data": "x", "timestamp": "yesterday", "hash": "h"}').decode(),
    ],
)
def test_malformed_header_fails_as_a7008(header: str) -> None:
    with pytest.raises(crypto.ApiDataError) as caught:
        crypto.decode_api_data(header, site_id=SITE_ID, site_key=SITE_KEY, access_key=ACCESS_KEY)

    assert caught.value.code == "A7008"
