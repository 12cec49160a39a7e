"""The operator CLI against the local DoveRunner, from suspect videos to detection results. Every step is a real
`doverunner` command, printed with its output.

    python -m doverunner_local.cli_demo [--step-seconds S]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from doverunner_local.samples import make_sample

CLI = shutil.which("doverunner") or str(Path(sys.executable).with_name("doverunner"))


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve_files(folder: Path) -> tuple[ThreadingHTTPServer, str]:
    """A plain HTTP file server: where a URL detection's video is downloaded from."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietFiles, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _run(env: dict[str, str], *args: str, show: bool = True) -> Any:
    """Runs one `doverunner` command, echoing it and its stderr; its JSON stdout is returned."""
    print(f"\n$ doverunner {' '.join(_quote(a) for a in args)}", flush=True)
    proc = subprocess.run([CLI, *args], env=env, capture_output=True, text=True, check=False, timeout=600)
    for line in proc.stderr.splitlines():
        print(f"  | {line}")
    if proc.returncode != 0:
        raise SystemExit(f"demo: `doverunner {args[0]}` failed with exit code {proc.returncode}")
    result = json.loads(proc.stdout)
    if show:
        print(proc.stdout.rstrip())
    return result


def _quote(arg: str) -> str:
    return f'"{arg}"' if " " in arg else arg


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--step-seconds", type=float, default=0.5, help="local DoveRunner speed")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="doverunner-demo-"))
    emulator = subprocess.Popen(
        [CLI, "emulator", "--port", "0", "--step-seconds", str(args.step_seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    files = None
    try:
        assert emulator.stdout is not None
        started = json.loads(emulator.stdout.readline())
        env = {**os.environ, **started["env"]}
        admin = started["admin_url"]
        print(f"local DoveRunner at {started['api_url']} (site {env['DOVERUNNER_SITE_ID']})")

        # Suspect videos: one carries the forensic mark of a known session, one none, one is too poor to detect.
        # Each a 5-minute 480p H.264 video above 1 Mbps, as DoveRunner needs (40 MB, mostly a hole on disk).
        pirated = make_sample(work / "pirated-copy.mp4", mark="0000000000000001")
        make_sample(work / "clean-rip.mkv")
        make_sample(work / "shaky-cam.mov", fail="D007")
        files, base = _serve_files(work)
        print(f"suspect videos in {work}, also served at {base}")

        interval = str(max(0.2, args.step_seconds / 2))
        upload = _run(
            env, "detect", "upload", str(pirated), "--title", "Pirated copy", "--wait", "--interval", interval
        )
        _run(
            env,
            "detect",
            "url",
            "--title",
            "Clean rip",
            "--file-path",
            f"{base}/clean-rip.mkv",
            "--wait",
            "--interval",
            interval,
            show=False,
        )
        _run(
            env,
            "detect",
            "url",
            "--title",
            "Shaky cam",
            "--file-path",
            f"{base}/shaky-cam.mov",
            "--wait",
            "--interval",
            interval,
            show=False,
        )
        listing = _run(env, "list", "--all", show=False)
        print(f"  {listing['total_count']} detections listed")
        details = [_run(env, "detail", str(d["detection_id"]), show=False) for d in listing["detections"]]

        # The leaking session's revoke token, as DoveRunner's notification would carry it, verified.
        sessions = requests.get(f"{admin}/sessions", timeout=10).json()["sessions"]
        token = next(s["revoke_token"] for s in sessions if s["forensic_mark"] == upload["detection"]["wm_key"])
        _run(env, "verify-token", token)

        print("\nResults:")
        for item in sorted(details, key=lambda d: d["detection_id"]):
            if item["watermark_found"]:
                verdict = f"watermark found: mark {item['wm_key']}, session {item['wm_data']}"
            elif item["failure"]:
                failure = item["failure"]
                verdict = f"{item['detect_status']} {failure['error_code']} {failure['description']}"
            else:
                verdict = f"{item['detect_status']} {item['status_description']}: no watermark"
            print(f"  {item['detection_id']}  {item['title']:<32} {verdict}")
        return 0
    finally:
        if files:
            files.shutdown()
        emulator.terminate()
        emulator.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
