"""HTTP with timeouts on every call and retries only where repeating a request cannot cost anything.

A call is "safe" when repeating it has no effect beyond the first (reads, token, verification, signed URL).
Safe calls are retried on connection errors, timeouts, 5xx and 429. An unsafe call (one that creates a detection
or a registration) is retried only when the request provably never reached DoveRunner (the connection was never
made) or was refused with 429; a duplicate detection costs the customer quota (A4015, A4019).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from doverunner.errors import TransportError

log = logging.getLogger("doverunner.transport")

RETRYABLE_STATUS = frozenset({500, 502, 503, 504})


def never_sent(exc: requests.RequestException) -> bool:
    """True when the request cannot have reached the server: no connection was ever made."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        reason: Any = exc.args[0] if exc.args else None
        reason = getattr(reason, "reason", reason)
        return isinstance(reason, NewConnectionError | ConnectTimeoutError)
    return False


class Transport:
    def __init__(
        self,
        *,
        session: requests.Session | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        max_attempts: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 20.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.session = session or requests.Session()
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._sleep = sleep
        self._rng = rng or random.Random()

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter: uniform(0, min(cap, base * 2^attempt))."""
        return self._rng.uniform(0, min(self.backoff_cap, self.backoff_base * (2**attempt)))

    def request(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        safe: bool,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        data: Any = None,
        json_body: Any = None,
        read_timeout: float | None = None,
        attempts: int | None = None,
    ) -> requests.Response:
        """`attempts` overrides the retry count, e.g. 1 for a body stream that cannot be sent twice."""
        timeout = (self.connect_timeout, read_timeout or self.read_timeout)
        max_attempts = attempts or self.max_attempts
        for attempt in range(max_attempts):
            last = attempt == max_attempts - 1
            try:
                response = self.session.request(
                    method,
                    url,
                    headers=dict(headers or {}),
                    params=params,
                    data=data,
                    json=json_body,
                    timeout=timeout,
                )
            except requests.RequestException as exc:
                unsent = never_sent(exc)
                if (safe or unsent) and not last:
                    delay = self.backoff(attempt)
                    log.warning(
                        "DoveRunner %s: %s, retrying in %.2fs (attempt %d of %d)",
                        operation,
                        type(exc).__name__,
                        delay,
                        attempt + 1,
                        max_attempts,
                    )
                    self._sleep(delay)
                    continue
                raise TransportError(
                    f"DoveRunner {operation}: {type(exc).__name__} talking to DoveRunner"
                    + ("" if unsent else "; the request may have been received")
                    + f" (after {attempt + 1} attempt(s))",
                    maybe_processed=not unsent,
                ) from None
            status = response.status_code
            if (status == 429 or (safe and status in RETRYABLE_STATUS)) and not last:
                delay = self._retry_after(response) or self.backoff(attempt)
                log.warning(
                    "DoveRunner %s: HTTP %d, retrying in %.2fs (attempt %d of %d)",
                    operation,
                    status,
                    delay,
                    attempt + 1,
                    max_attempts,
                )
                response.close()
                self._sleep(delay)
                continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _retry_after(self, response: requests.Response) -> float | None:
        value = response.headers.get("Retry-After", "")
        try:
            return min(self.backoff_cap, max(0.0, float(value)))
        except ValueError:
            return None
