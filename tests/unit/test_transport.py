"""Retries: only where repeating a request cannot create a second detection."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
import requests
from urllib3.exceptions import NewConnectionError, ProtocolError

from doverunner.errors import TransportError
from doverunner.transport import Transport


def response(status: int, body: Any = None, headers: dict[str, str] | None = None) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = json.dumps(body).encode() if body is not None else b"oops"
    r._content_consumed = True  # type: ignore[attr-defined]
    r.headers.update(headers or {})
    return r


class ScriptedSession:
    """Answers each request with the next scripted response or exception."""

    def __init__(self, *script: requests.Response | Exception) -> None:
        self.script = list(script)
        self.calls: list[dict[str, Any]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        self.calls.append({"method": method, "url": url, **kwargs})
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


def never_connected() -> requests.ConnectionError:
    return requests.ConnectionError(NewConnectionError(None, "refused"))  # type: ignore[arg-type]


def reset_mid_request() -> requests.ConnectionError:
    return requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError()))


def transport(session: ScriptedSession, sleeps: list[float] | None = None, attempts: int = 4) -> Transport:
    return Transport(
        session=session,  # type: ignore[arg-type]
        max_attempts=attempts,
        sleep=(sleeps if sleeps is not None else []).append,
        rng=random.Random(1),
    )


def test_safe_call_is_retried_on_5xx_until_it_succeeds() -> None:
    session = ScriptedSession(response(503), response(502), response(200, {"error_code": "0000"}))

    result = transport(session).request("GET", "http://x/list", operation="list", safe=True)

    assert result.status_code == 200
    assert len(session.calls) == 3


def test_safe_call_gives_up_after_the_last_attempt_with_the_last_answer() -> None:
    session = ScriptedSession(*(response(503) for _ in range(3)))

    result = transport(session, attempts=3).request("GET", "http://x", operation="list", safe=True)

    assert result.status_code == 503
    assert len(session.calls) == 3


def test_safe_call_is_retried_after_a_reset_connection() -> None:
    session = ScriptedSession(reset_mid_request(), response(200, {}))

    assert transport(session).request("GET", "http://x", operation="detail", safe=True).status_code == 200


def test_creating_call_is_not_repeated_after_a_5xx() -> None:
    session = ScriptedSession(response(503), response(200, {}))

    result = transport(session).request("POST", "http://x/url", operation="detect", safe=False)

    assert result.status_code == 503
    assert len(session.calls) == 1


def test_creating_call_is_not_repeated_when_the_connection_broke_mid_request() -> None:
    session = ScriptedSession(reset_mid_request(), response(200, {}))

    with pytest.raises(TransportError) as caught:
        transport(session).request("POST", "http://x/url", operation="detect", safe=False)

    assert caught.value.maybe_processed is True
    assert len(session.calls) == 1


def test_creating_call_is_not_repeated_after_a_read_timeout() -> None:
    session = ScriptedSession(requests.ReadTimeout("slow"), response(200, {}))

    with pytest.raises(TransportError, match="may have been received"):
        transport(session).request("POST", "http://x/url", operation="detect", safe=False)

    assert len(session.calls) == 1


def test_creating_call_is_repeated_when_no_connection_was_ever_made() -> None:
    session = ScriptedSession(never_connected(), requests.ConnectTimeout("slow"), response(200, {}))

    result = transport(session).request("POST", "http://x/url", operation="detect", safe=False)

    assert result.status_code == 200
    assert len(session.calls) == 3


def test_rate_limited_call_is_repeated_even_when_it_creates_because_it_was_refused() -> None:
    session = ScriptedSession(response(429, headers={"Retry-After": "0"}), response(200, {}))

    assert transport(session).request("POST", "http://x/url", operation="detect", safe=False).status_code == 200


def test_retry_after_header_sets_the_wait() -> None:
    sleeps: list[float] = []
    session = ScriptedSession(response(429, headers={"Retry-After": "3"}), response(200, {}))

    transport(session, sleeps).request("GET", "http://x", operation="list", safe=True)

    assert sleeps == [3.0]


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    t = Transport(session=ScriptedSession(), backoff_base=0.5, backoff_cap=4.0, rng=random.Random(3))  # type: ignore[arg-type]

    for attempt in range(8):
        delays = [t.backoff(attempt) for _ in range(200)]
        ceiling = min(4.0, 0.5 * 2**attempt)
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # jitter spans the whole range


def test_every_call_has_a_connect_and_read_timeout() -> None:
    session = ScriptedSession(response(200, {}))

    Transport(session=session, connect_timeout=2, read_timeout=9).request(  # type: ignore[arg-type]
        "GET", "http://x", operation="list", safe=True
    )

    assert session.calls[0]["timeout"] == (2, 9)


def test_single_attempt_override_never_repeats_a_body_stream() -> None:
    session = ScriptedSession(response(429), response(200, {}))

    result = transport(session).request("PUT", "http://x/upload", operation="upload", safe=False, attempts=1)

    assert result.status_code == 429
    assert len(session.calls) == 1
