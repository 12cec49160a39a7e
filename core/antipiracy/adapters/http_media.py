"""A video behind a URL (a URL request), read through HTTP range requests for the pre-flight check: a `Reader` for
domain/media.probe, when the server answers ranges; else why the video cannot be checked."""

from __future__ import annotations

import re
import time
from typing import Any

import requests

from antipiracy.domain.media import Reader
from antipiracy.domain.preflight import Unchecked

FIRST_RANGE = 4096
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+)")


class HttpMedia:
    """Range reads of a URL: each read one GET with a Range header, within `timeout` seconds per request and
    `deadline` seconds for all of one video's reads (a server that answers slowly does not hold the submit
    function)."""

    def __init__(self, session: Any | None = None, *, timeout: float = 5.0, deadline: float = 20.0) -> None:
        self._session = session or requests.Session()
        self._timeout = timeout
        self._deadline = deadline

    def open(self, url: str) -> tuple[Reader, int]:
        """A reader of the URL's bytes and the video's size; Unchecked when the server answers no range request."""
        ends = time.monotonic() + self._deadline
        first, size = self._get(url, 0, FIRST_RANGE, ends)

        def read(offset: int, length: int) -> bytes:
            if length <= 0 or offset >= size:
                return b""
            if offset + length <= len(first):
                return first[offset : offset + length]
            return self._get(url, offset, length, ends)[0]

        return read, size

    def _get(self, url: str, offset: int, length: int, ends: float) -> tuple[bytes, int]:
        left = ends - time.monotonic()
        if left <= 0:
            raise Unchecked(f"reading the video's metadata took more than {self._deadline:.0f} s")
        headers = {"Range": f"bytes={offset}-{offset + length - 1}"}
        try:
            with self._session.get(
                url, headers=headers, stream=True, timeout=min(self._timeout, left), allow_redirects=True
            ) as response:
                if response.status_code == 200:
                    raise Unchecked("the server does not answer range requests (HTTP 200 to a Range request)")
                if response.status_code != 206:
                    raise Unchecked(f"the server answered HTTP {response.status_code}")
                found = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
                if found is None:
                    raise Unchecked("the server's partial answer has no Content-Range with the video's size")
                body = response.raw.read(length, decode_content=True)
        except requests.RequestException as exc:
            raise Unchecked(f"the URL could not be read ({type(exc).__name__})") from None
        return bytes(body), int(found.group(3))
