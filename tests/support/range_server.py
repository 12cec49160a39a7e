"""A local HTTP server that answers Range requests (206 with Content-Range), as a CDN or a pirate site's video host
does; Python's own SimpleHTTPRequestHandler answers every request whole (200)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_RANGE = re.compile(r"bytes=(\d+)-(\d*)")


@contextmanager
def range_server(files: dict[str, bytes], *, delay: float = 0.0) -> Iterator[str]:
    """Serves `files` (path -> bytes) with ranges; each answer waits `delay` seconds first. Its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            time.sleep(delay)
            body = files.get(self.path.split("?", 1)[0])
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            found = _RANGE.match(self.headers.get("Range", ""))
            if found is None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            start = int(found.group(1))
            end = min(int(found.group(2)) if found.group(2) else len(body) - 1, len(body) - 1)
            part = body[start : end + 1]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(body)}")
            self.send_header("Content-Length", str(len(part)))
            self.end_headers()
            self.wfile.write(part)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
