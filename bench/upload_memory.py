"""Upload benchmark: throughput and peak memory of the client's streaming upload, against baselines measured
in the same run (machines here are noisy, so only ratios are compared).

    make bench            or    .venv/bin/python bench/upload_memory.py [--sizes 64,256,1024] [--repeat 3]

Baselines: `curl --upload-file` (throughput: what a native client does on this machine) and the naive
`requests.put(url, data=f.read())` (memory: what not streaming costs). Each upload runs in a fresh process
(bench/upload_child.py) against the local DoveRunner, with a sparse file, so disk speed does not count.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from doverunner import ClientConfig, Credentials, DoveRunnerClient
from doverunner_local.config import EmulatorConfig
from doverunner_local.samples import make_sample
from doverunner_local.server import LocalDoveRunner

CHILD = Path(__file__).with_name("upload_child.py")
MIB = 1 << 20


def child(env: dict[str, str], mode: str, video: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, str(CHILD), mode, str(video)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def curl(env: dict[str, str], video: Path) -> dict[str, float]:
    client = DoveRunnerClient(ClientConfig.from_mapping(env), Credentials.from_mapping(env))
    url = client.request_upload_url("bench curl", "mp4").upload_url
    started = time.perf_counter()
    subprocess.run(["curl", "-sf", "--upload-file", str(video), url], check=True)
    return {"seconds": time.perf_counter() - started, "max_rss_kib": float("nan")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="64,256,1024", help="file sizes in MiB")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size and mode (the median is kept)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    rows = []
    with tempfile.TemporaryDirectory() as folder, LocalDoveRunner(EmulatorConfig(step_seconds=0.01)) as local:
        env = local.credentials()
        for size in sizes:
            video = make_sample(Path(folder) / f"{size}.mp4", 4096)
            os.truncate(video, size * MIB)
            runs: dict[str, list[dict[str, float]]] = {"client": [], "read-all": [], "curl": []}
            for _ in range(args.repeat):
                runs["client"].append(child(env, "client", video))
                runs["read-all"].append(child(env, "read-all", video))
                runs["curl"].append(curl(env, video))
                local.emulator.reset()
            median = {
                mode: {key: statistics.median(r[key] for r in results) for key in ("seconds", "max_rss_kib")}
                for mode, results in runs.items()
            }
            rows.append((size, median))

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, median of {args.repeat} runs\n")
    print(
        "| size MiB | client MiB/s | curl MiB/s | client/curl throughput | client peak RSS MiB "
        "| read-all peak RSS MiB | client/read-all memory |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for size, m in rows:
        client_rate = size / m["client"]["seconds"]
        curl_rate = size / m["curl"]["seconds"]
        client_rss = m["client"]["max_rss_kib"] / 1024
        naive_rss = m["read-all"]["max_rss_kib"] / 1024
        print(
            f"| {size} | {client_rate:.0f} | {curl_rate:.0f} | {client_rate / curl_rate:.2f} | {client_rss:.0f} "
            f"| {naive_rss:.0f} | {client_rss / naive_rss:.3f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
