"""The token API: `Basic base64(accountId:accessKey)` in, a ready `Authorization` value out.

Tokens are cached per (API URL, site, account) in the process, so warm Lambda invocations and every client
instance share one; a token is refreshed shortly before its JWT `exp`, or when DoveRunner rejects it.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from doverunner.config import ClientConfig, Credentials
from doverunner.errors import DoveRunnerApiError, TransportError
from doverunner.transport import Transport

REFRESH_MARGIN_SECONDS = 60.0


@dataclass
class _CachedToken:
    value: str
    expires_at: float | None  # wall-clock seconds, from the JWT's exp when it has one


_CACHE: dict[tuple[str, str, str], _CachedToken] = {}
_LOCK = threading.Lock()


def clear_token_cache() -> None:
    with _LOCK:
        _CACHE.clear()


def basic_authorization(account_id: str, access_key: str) -> str:
    return "Basic " + base64.b64encode(f"{account_id}:{access_key}".encode()).decode("ascii")


def jwt_expiry(token: str) -> float | None:
    """The `exp` claim of a (possibly "Bearer "-prefixed) JWT, read without verification; None if absent."""
    parts = token.split()[-1].split(".") if token else []
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, int | float) else None


class TokenProvider:
    def __init__(
        self,
        config: ClientConfig,
        credentials: Credentials,
        transport: Transport,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._credentials = credentials
        self._transport = transport
        self._clock = clock
        self._key = (config.api_url, config.site_id, credentials.account_id)

    def get(self) -> str:
        """A valid Authorization value, from the cache when it has one that is not about to expire."""
        with _LOCK:
            cached = _CACHE.get(self._key)
        if cached and (cached.expires_at is None or cached.expires_at - REFRESH_MARGIN_SECONDS > self._clock()):
            return cached.value
        return self.refresh()

    def invalidate(self, rejected: str | None = None) -> None:
        with _LOCK:
            cached = _CACHE.get(self._key)
            # Another thread may already have replaced the rejected token.
            if cached and (rejected is None or cached.value == rejected):
                del _CACHE[self._key]

    def refresh(self) -> str:
        response = self._transport.request(
            "GET",
            f"{self._config.api_url}/api/token/{self._config.site_id}/",
            operation="token",
            safe=True,
            headers={
                "Authorization": basic_authorization(self._credentials.account_id, self._credentials.token_access_key)
            },
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise TransportError(
                f"DoveRunner token: HTTP {response.status_code} with a body that is not JSON",
                status=response.status_code,
                maybe_processed=False,
            )
        code = str(body.get("error_code") or ("0000" if response.ok else f"HTTP{response.status_code}"))
        if code != "0000":
            raise DoveRunnerApiError(
                code,
                str(body.get("error_message") or ""),
                http_status=response.status_code,
                operation="token",
            )
        data = body.get("data")
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise TransportError("DoveRunner token: the response has no data.token", status=response.status_code)
        # The value already carries its scheme ("Bearer ..."): it is sent unchanged.
        with _LOCK:
            _CACHE[self._key] = _CachedToken(token, jwt_expiry(token))
        return token
