"""`doverunner emulator`: runs the local DoveRunner in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from typing import Any, TextIO

from doverunner_local.config import EmulatorConfig
from doverunner_local.server import LocalDoveRunner


def _setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep:
        raise ValueError(f"{text!r} is not NAME=VALUE")
    return name.strip(), value.strip()


def run_emulator(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = EmulatorConfig(step_seconds=args.step_seconds, aws_endpoint_url=args.aws_endpoint_url)
    if args.site_id:
        config.site_id = args.site_id
    if args.token_ttl is not None:
        config.token_ttl_seconds = args.token_ttl
    try:
        config.faults.update(dict(_setting(text) for text in args.fault))
    except ValueError as exc:
        err.write(f"doverunner: --fault: {exc}\n")
        return 2
    try:
        local = LocalDoveRunner(config, host=args.host, port=args.port)
    except OSError as exc:
        err.write(f"doverunner: cannot listen on {args.host}:{args.port}: {exc.strerror}\n")
        return 2
    done = threading.Event()

    def stop(*_: Any) -> None:
        done.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    with local:
        env = local.credentials()
        # One JSON line first, so scripts can read it; these are the emulator's own local-only credentials.
        out.write(json.dumps({"api_url": local.url, "admin_url": f"{local.url}/_emulator", "env": env}) + "\n")
        out.flush()
        err.write(
            "local DoveRunner running; use it with:\n"
            + "".join(f"  export {name}={value}\n" for name, value in env.items())
            + "Ctrl-C stops it.\n"
        )
        err.flush()
        done.wait()
    return 0
