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


def run_local_up(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Deploys the app into a local AWS with the local DoveRunner and keeps it up until Ctrl-C."""
    import logging

    from doverunner_local.stack import LocalPipelineStack

    logging.getLogger("moto").setLevel(logging.ERROR)
    done = threading.Event()

    def stop(*_: Any) -> None:
        done.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    err.write("synthesizing the app and deploying it into a local AWS...\n")
    err.flush()
    with LocalPipelineStack(step_seconds=args.step_seconds) as local:
        info = local.info()
        # First line: one JSON object, for scripts.
        out.write(json.dumps(info, ensure_ascii=False) + "\n")
        out.flush()
        err.write(
            "local deployment up; drive it with the AWS CLI or boto3:\n"
            f"  export AWS_ENDPOINT_URL={info['aws_endpoint_url']} AWS_DEFAULT_REGION={info['aws_region']} "
            "AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local\n"
            f"  aws s3 cp video.mp4 s3://{info['inbox_bucket']}/{info['inbox_prefix']}video.mp4\n"
            f"  aws s3 cp s3://{info['inbox_bucket']}/{info['results_prefix']}{info['inbox_prefix']}video.mp4.json -\n"
            "Ctrl-C stops it.\n"
        )
        err.flush()
        done.wait()
    return 0
