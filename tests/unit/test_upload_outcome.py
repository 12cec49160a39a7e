"""When a failed upload may have registered a detection: decided by what the connection took, chunk by chunk."""

from __future__ import annotations

import io
import time
from collections.abc import Iterable
from typing import Any

import pytest
import requests
from urllib3.exceptions import ProtocolError

from doverunner import ClientConfig, Credentials, DoveRunnerClient
from doverunner.errors import TransportError
from doverunner.models import UploadTicket
from doverunner.transport import Transport

MIB = 1 << 20


class ConnectionThatBreaks(requests.Session):
    """Sends a body as urllib3 does (one `sendall` per chunk the body yields) and breaks the connection either while
    sending chunk number `during_chunk` (counted from 1) or, with None, after the whole body was sent, while
    waiting for the answer."""

    def __init__(self, during_chunk: int | None) -> None:
        super().__init__()
        self.during_chunk = during_chunk
        self.taken = 0

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        body: Iterable[bytes] = kwargs["data"]
        for number, chunk in enumerate(body, start=1):
            if number == self.during_chunk:
                raise requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104)))
            self.taken += len(chunk)  # sendall returned
        raise requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104)))


def upload(session: ConnectionThatBreaks, size: int) -> TransportError:
    config = ClientConfig(site_id="DEMO", api_url="http://127.0.0.1:9")
    credentials = Credentials(site_key="k" * 32, access_key="access", account_id="account")
    client = DoveRunnerClient(config, credentials, transport=Transport(session=session, max_attempts=1))
    ticket = UploadTicket("http://127.0.0.1:9/upload", "t", "mp4", issued_at=time.monotonic())
    with pytest.raises(TransportError) as failed:
        client.upload(ticket, io.BytesIO(b"v" * size), size)
    return failed.value


def test_reset_while_the_only_chunk_is_sent_cannot_have_registered() -> None:
    # Given a file of one chunk, when the connection breaks while that chunk is being sent
    failure = upload(ConnectionThatBreaks(during_chunk=1), 600 * 1024)

    # Then DoveRunner cannot have the whole file
    assert failure.maybe_processed is False


def test_reset_while_the_last_chunk_is_sent_cannot_have_registered() -> None:
    session = ConnectionThatBreaks(during_chunk=3)

    failure = upload(session, 3 * MIB)

    assert session.taken == 2 * MIB
    assert failure.maybe_processed is False


def test_reset_after_the_connection_took_every_byte_may_have_registered() -> None:
    # Given a connection that took the whole file, when it breaks while the answer is awaited
    session = ConnectionThatBreaks(during_chunk=None)

    failure = upload(session, 600 * 1024)

    # Then the upload may have registered a detection
    assert session.taken == 600 * 1024
    assert failure.maybe_processed is True


def test_rate_limited_call_without_the_apis_json_was_not_processed() -> None:
    response = requests.Response()
    response.status_code = 429
    response._content = b"Too Many Requests"

    with pytest.raises(TransportError) as failed:
        DoveRunnerClient._json(response, "detect by URL")

    assert failed.value.maybe_processed is False
