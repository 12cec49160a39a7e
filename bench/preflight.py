"""What the pre-flight media check costs the submit function (`make bench-preflight`).

For every file of the media corpus that the reader accepts (tests/support/media_corpus.py: real files made by FFmpeg,
cached under .cache/media-corpus), `probe` reads the file's metadata through ranged GETs from a server in another
process that serves each range from disk at a constant cost (as S3 does; moto would load the whole object for each
range, which measures moto). Per file:

- bytes read and ranged GETs, against the goal: max(1 MiB, 1% of the object) plus the moov box;
- latency: the probe's median over the runs, as a ratio to one ranged GET of the same server in the same run (the
  request the submit function makes anyway is a HeadObject, one round trip): the ratio is the added round trips;
- memory: the probe's peak of Python allocations in this process (tracemalloc).

    python bench/preflight.py [--runs N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import statistics
import sys
import time
import tracemalloc
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "support")]

from media_corpus import build_corpus, moov_size  # noqa: E402

from antipiracy.adapters.http_media import HttpMedia  # noqa: E402
from antipiracy.domain.media import NotAVideo, Unreadable, probe, read_budget  # noqa: E402
from antipiracy.domain.preflight import Unchecked  # noqa: E402

CACHE = ROOT / ".cache" / "media-corpus"
_RANGE = re.compile(r"bytes=(\d+)-(\d+)")


def serve(folder: str, ready: Any) -> None:
    """Ranges of the files in `folder`, each read from disk with a seek."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            path = Path(folder) / self.path.lstrip("/")
            size = path.stat().st_size
            found = _RANGE.match(self.headers.get("Range", ""))
            start, end = (int(found.group(1)), min(int(found.group(2)), size - 1)) if found else (0, size - 1)
            with path.open("rb") as file:
                file.seek(start)
                body = file.read(end - start + 1)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ready.send(server.server_address[1])
    server.serve_forever()


class Counting:
    """A requests session that counts its GETs."""

    def __init__(self) -> None:
        self.session = requests.Session()
        self.gets = 0

    def get(self, *args: Any, **kwargs: Any) -> Any:
        self.gets += 1
        return self.session.get(*args, **kwargs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    files = build_corpus(CACHE)
    folder = files[0].path.parent
    receive, send = multiprocessing.Pipe(duplex=False)
    server = multiprocessing.Process(target=serve, args=(str(folder), send), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{receive.recv()}"
    counting = Counting()
    media = HttpMedia(counting)
    rows = []
    try:
        for file in files:
            if file.path.parent != folder:
                continue
            url = f"{base}/{file.path.name}"
            try:
                read, size = media.open(url)
                info = probe(read, size)
            except (NotAVideo, Unreadable, Unchecked):
                continue  # no video to measure (refused files, an empty one)
            probes, singles, gets = [], [], 0
            for _ in range(args.runs):
                started = time.perf_counter()
                counting.get(url, headers={"Range": "bytes=0-0"}).close()
                singles.append(time.perf_counter() - started)
                before = counting.gets
                started = time.perf_counter()
                read, size = media.open(url)
                probe(read, size)
                probes.append(time.perf_counter() - started)
                gets = counting.gets - before
            tracemalloc.start()
            read, size = media.open(url)
            probe(read, size)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            goal = read_budget(file.size) + moov_size(file.path)
            probe_ms, single_ms = statistics.median(probes) * 1000, statistics.median(singles) * 1000
            rows.append((file.name, file.size, info.bytes_read, gets, goal, probe_ms, single_ms, peak))
    finally:
        server.terminate()
    print(f"python {sys.version.split()[0]}, {len(rows)} files the reader accepts, median of {args.runs} runs\n")
    print(
        "| file | size MiB | bytes read | ranged GETs | goal bytes | probe ms | one GET ms | probe / GET | peak KiB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, size, read_bytes, gets, goal, probe_ms, single_ms, peak in rows:
        print(
            f"| {name} | {size / (1 << 20):.1f} | {read_bytes} | {gets} | {goal} | {probe_ms:.2f} | {single_ms:.2f} "
            f"| {probe_ms / single_ms:.2f} | {peak / 1024:.0f} |"
        )
    ratios = sorted(row[5] / row[6] for row in rows)
    within = sum(row[2] <= row[4] for row in rows)
    print(
        f"\nbytes read: max {max(r[2] for r in rows)}, median {statistics.median(r[2] for r in rows):.0f}; "
        f"ranged GETs: max {max(r[3] for r in rows)}, median {statistics.median(r[3] for r in rows):.0f}; "
        f"within goal: {within}/{len(rows)}; probe / one GET: median {statistics.median(ratios):.2f}, "
        f"max {ratios[-1]:.2f}; peak allocations: max {max(r[7] for r in rows) / 1024:.0f} KiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
