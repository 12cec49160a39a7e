"""The `pallycon-apidata` envelope of the detection API guide.

data      = base64(AES-256-CBC(site key, IV "0123456789abcdef", PKCS#7 over the UTF-8 bytes of the JSON))
timestamp = UTC "yyyy-mm-ddThh:mm:ssZ"
hash      = base64(SHA-256(access key + site id + data + timestamp)), the binary digest
header    = base64(JSON {"data", "timestamp", "hash"})
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from doverunner.errors import ConfigurationError

AES_IV = b"0123456789abcdef"
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
SITE_KEY_BYTES = 32


class ApiDataError(ValueError):
    """A `pallycon-apidata` value that cannot be read; `code` is the guide's error code for it."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def site_key_bytes(site_key: str | bytes) -> bytes:
    """The site key as the 32 AES key bytes; anything else is a configuration error."""
    key = site_key.encode("utf-8") if isinstance(site_key, str) else site_key
    if len(key) != SITE_KEY_BYTES:
        # The length is safe to name; the key itself never is.
        raise ConfigurationError(
            f"the DoveRunner site key must be {SITE_KEY_BYTES} bytes (AES-256), got {len(key)} bytes"
        )
    return key


def encrypt(site_key: str | bytes, plaintext: str) -> str:
    """AES-256-CBC with PKCS#7 padding applied to the UTF-8 bytes, base64-encoded."""
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext.encode("utf-8")) + padder.finalize()
    encryptor = Cipher(algorithms.AES(site_key_bytes(site_key)), modes.CBC(AES_IV)).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode("ascii")


def decrypt(site_key: str | bytes, data: str) -> str:
    """The inverse of `encrypt`; a wrong key or damaged data raises ApiDataError A1006."""
    key = site_key_bytes(site_key)
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiDataError("A1006", "data is not valid base64") from exc
    if not raw or len(raw) % 16:
        raise ApiDataError("A1006", "data is not a whole number of AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(AES_IV)).decryptor()
    padded = decryptor.update(raw) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        plain = unpadder.update(padded) + unpadder.finalize()
        return plain.decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiDataError("A1006", "data does not decrypt with this site key") from exc


def timestamp(now: datetime | None = None) -> str:
    moment = now.astimezone(UTC) if now else datetime.now(UTC)
    return moment.strftime(TIMESTAMP_FORMAT)


def parse_timestamp(value: str) -> datetime:
    return datetime.strptime(value, TIMESTAMP_FORMAT).replace(tzinfo=UTC)


def request_hash(access_key: str, site_id: str, data: str, stamp: str) -> str:
    digest = hashlib.sha256((access_key + site_id + data + stamp).encode("utf-8")).digest()
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True)
class ApiData:
    """The three fields of a decoded `pallycon-apidata` header."""

    data: str
    timestamp: str
    hash: str


def encode_api_data(
    payload: dict[str, Any],
    *,
    site_id: str,
    site_key: str | bytes,
    access_key: str,
    now: datetime | None = None,
) -> str:
    """The value of the `pallycon-apidata` header for one API call."""
    data = encrypt(site_key, json.dumps(payload, ensure_ascii=False, separators=(",", ":")))
    stamp = timestamp(now)
    envelope = {"data": data, "timestamp": stamp, "hash": request_hash(access_key, site_id, data, stamp)}
    return base64.b64encode(json.dumps(envelope, separators=(",", ":")).encode("ascii")).decode("ascii")


def parse_api_data(header: str) -> ApiData:
    """The envelope of a header value; a malformed one raises ApiDataError A7008."""
    try:
        envelope = json.loads(base64.b64decode(header, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise ApiDataError("A7008", "pallycon-apidata is not base64-encoded JSON") from exc
    if not isinstance(envelope, dict):
        raise ApiDataError("A7008", "pallycon-apidata is not a JSON object")
    fields = {}
    for name in ("data", "timestamp", "hash"):
        value = envelope.get(name)
        if not isinstance(value, str) or not value:
            raise ApiDataError("A7008", f"pallycon-apidata has no '{name}' string")
        fields[name] = value
    try:
        parse_timestamp(fields["timestamp"])
    except ValueError as exc:
        raise ApiDataError("A7008", "pallycon-apidata timestamp is not yyyy-mm-ddThh:mm:ssZ") from exc
    return ApiData(**fields)


def decode_api_data(
    header: str,
    *,
    site_id: str,
    site_key: str | bytes,
    access_key: str,
) -> dict[str, Any]:
    """Verify and decrypt a header value: A7008 malformed, A1007 wrong hash, A1006 wrong key."""
    envelope = parse_api_data(header)
    expected = request_hash(access_key, site_id, envelope.data, envelope.timestamp)
    if not hmac.compare_digest(expected, envelope.hash):
        raise ApiDataError("A1007", "hash does not match access key + site id + data + timestamp")
    try:
        payload = json.loads(decrypt(site_key, envelope.data))
    except json.JSONDecodeError as exc:
        raise ApiDataError("A7008", "decrypted data is not JSON") from exc
    if not isinstance(payload, dict):
        raise ApiDataError("A7008", "decrypted data is not a JSON object")
    return payload
