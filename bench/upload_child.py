"""One upload in a fresh process, so its peak memory is its own: prints {"seconds", "max_rss_kib"} as JSON.

Peak memory is the process's VmHWM: getrusage's ru_maxrss would carry over the parent's peak across fork and
exec on Linux, hiding the child's own.

    python bench/upload_child.py MODE FILE      (DOVERUNNER_* variables point at a DoveRunner)

MODE: "client" streams with DoveRunnerClient.upload; "read-all" is the naive baseline that reads the whole file
into memory and PUTs it with requests.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import requests

from doverunner import ClientConfig, Credentials, DoveRunnerClient


def peak_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise SystemExit("no VmHWM in /proc/self/status: peak memory needs Linux")


def main() -> int:
    mode, path = sys.argv[1], Path(sys.argv[2])
    client = DoveRunnerClient(ClientConfig.from_mapping(os.environ), Credentials.from_mapping(os.environ))
    size = path.stat().st_size
    ticket = client.request_upload_url(f"bench {mode} {size}", "mp4")
    started = time.perf_counter()
    with path.open("rb") as stream:
        if mode == "client":
            client.upload(ticket, stream, size)
        elif mode == "read-all":
            requests.put(ticket.upload_url, data=stream.read(), timeout=600).raise_for_status()
        else:
            raise SystemExit(f"unknown mode {mode!r}")
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "max_rss_kib": peak_rss_kib()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
