"""`doverunner`: the operator's command line for DoveRunner detection.

JSON on stdout; errors on stderr with DoveRunner's code and the guide's explanation, and a non-zero exit.
Credentials and endpoint come from DOVERUNNER_SITE_ID, DOVERUNNER_SITE_KEY, DOVERUNNER_ACCESS_KEY,
DOVERUNNER_ACCOUNT_ID and DOVERUNNER_API_URL (default: the production host).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from antipiracy.domain.jobs import JobState
from antipiracy.domain.outcomes import JobOutcome
from antipiracy.domain.revocations import RevocationState
from doverunner import (
    ClientConfig,
    ConfigurationError,
    Credentials,
    Detection,
    DoveRunnerApiError,
    DoveRunnerClient,
    DoveRunnerClientError,
    TransportError,
    service_code,
)
from doverunner.client import file_extension
from doverunner_cli.log_redaction import configure_logging, redact
from doverunner_cli.stack_outputs import DEFAULT_STACK

log = logging.getLogger("doverunner_cli")

EXIT_USAGE = 2
EXIT_API = 3
EXIT_TRANSPORT = 4
EXIT_OTHER = 1


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = code


def _emit(value: Any, out: TextIO) -> None:
    out.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")
    out.flush()


def _service(args: argparse.Namespace) -> str | None:
    if not getattr(args, "service", None):
        return None
    try:
        return service_code(args.service)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def make_client(env: dict[str, str], service: str | None) -> DoveRunnerClient:
    config = ClientConfig.from_mapping(env)
    if service:
        config = dataclasses.replace(config, service=service)
    return DoveRunnerClient(config, Credentials.from_mapping(env))


class Progress:
    """Upload progress on stderr: a live line on a terminal, a line every 10% otherwise."""

    def __init__(self, stream: TextIO, label: str) -> None:
        self._stream = stream
        self._label = label
        self._tty = stream.isatty()
        self._last_step = -1
        self._last_time = 0.0
        self._started = time.monotonic()

    def __call__(self, sent: int, total: int) -> None:
        percent = 100 if total == 0 else sent * 100 // total
        now = time.monotonic()
        if self._tty:
            if now - self._last_time < 0.1 and sent < total:
                return
            self._last_time = now
            end = "\n" if sent >= total else ""
            self._stream.write(f"\r{self._line(sent, total, percent, now)}{end}")
        else:
            step = percent // 10
            if step == self._last_step:
                return
            self._last_step = step
            self._stream.write(self._line(sent, total, percent, now) + "\n")
        self._stream.flush()

    def _line(self, sent: int, total: int, percent: int, now: float) -> str:
        rate = sent / max(now - self._started, 1e-6) / (1 << 20)
        return f"{self._label}: {percent:3d}% ({sent / (1 << 20):.1f} of {total / (1 << 20):.1f} MiB, {rate:.1f} MiB/s)"


def _status_printer(stream: TextIO) -> Callable[[Detection], None]:
    def show(detection: Detection) -> None:
        progress = detection.detect_progress_status or "-"
        stream.write(
            f"detection {detection.detection_id}: {detection.detect_status} {progress} "
            f"({detection.status.description})\n"
        )
        stream.flush()

    return show


# ---- commands -----------------------------------------------------------------------------------------------


def _detect_result(
    client: DoveRunnerClient, args: argparse.Namespace, detection_id: int, err: TextIO, **extra: Any
) -> dict[str, Any]:
    result: dict[str, Any] = {"detection_id": detection_id, **extra}
    if args.wait:
        final = client.wait(
            detection_id,
            service=_service(args),
            timeout=args.timeout,
            interval=args.interval,
            on_change=_status_printer(err),
        )
        result["detection"] = final.to_dict()
    return result


def cmd_detect_url(client: DoveRunnerClient, args: argparse.Namespace, err: TextIO) -> Any:
    create = client.detect_live if args.kind == "live" else client.detect_url
    detection_id = create(args.title, args.file_path, demo=args.demo, service=_service(args))
    return _detect_result(client, args, detection_id, err, title=args.title, file_path=args.file_path)


def cmd_detect_upload(client: DoveRunnerClient, args: argparse.Namespace, err: TextIO) -> Any:
    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    # The extension is DoveRunner's to judge (A4023), so its own answer reaches the operator.
    extension = file_extension(path.name)
    size = path.stat().st_size
    if size == 0:
        raise CliError(f"{path.name}: the file is empty")
    progress = None if args.quiet else Progress(err, f"uploading {path.name}")
    with path.open("rb") as stream:
        receipt = client.detect_upload(
            stream,
            size,
            title=args.title or path.name,
            extension=extension,
            demo=args.demo,
            service=_service(args),
            make_unique=not args.exact_title,
            progress=progress,
            find_timeout=args.find_timeout,
        )
    detection = receipt.detection
    assert detection is not None  # detect_upload raises when it cannot find it
    return _detect_result(client, args, detection.detection_id, err, title=receipt.title, size=receipt.size)


def cmd_list(client: DoveRunnerClient, args: argparse.Namespace, err: TextIO) -> Any:
    filters: dict[str, Any] = {
        "keyword": args.keyword,
        "condition": args.condition,
        "status": args.status,
        "date_from": args.date_from,
        "date_to": args.date_to,
        "time_zone": args.time_zone,
        "req_types": args.types or None,
        "service": _service(args),
    }
    if args.all:
        items = [d.to_dict() for d in client.iter_detections(page_unit=args.page_size, **filters)]
        return {"total_count": len(items), "detections": items}
    page = client.list_detections(page_unit=args.page_size, page_index=args.page, **filters)
    return {
        "total_count": page.total_count,
        "time_zone": page.time_zone,
        "page": args.page,
        "page_size": args.page_size,
        "detections": [d.to_dict() for d in page.items],
    }


def cmd_detail(client: DoveRunnerClient, args: argparse.Namespace, err: TextIO) -> Any:
    return client.detail(args.detection_id, service=_service(args)).to_dict()


def cmd_wait(client: DoveRunnerClient, args: argparse.Namespace, err: TextIO) -> Any:
    return client.wait(
        args.detection_id,
        service=_service(args),
        timeout=args.timeout,
        interval=args.interval,
        on_change=_status_printer(err),
    ).to_dict()


def cmd_stop(client: DoveRunnerClient, args: argparse.Namespace, err: TextIO) -> Any:
    return {"detection_id": client.stop(args.detection_id, service=_service(args)), "stop_requested": True}


def cmd_token(client: DoveRunnerClient, args: argparse.Namespace, err: TextIO) -> Any:
    # The operator asked for the token: it is the output, and nowhere else.
    return {"authorization": client.token(refresh=True)}


def cmd_verify_token(client: DoveRunnerClient, args: argparse.Namespace, err: TextIO) -> Any:
    return client.verify_token(args.revoke_token).to_dict()


# Names of environment variables, not their values.
NOTI_ACCESS_KEY_VARIABLE = "DOVERUNNER_NOTI_AWS_ACCESS_KEY"
NOTI_SECRET_KEY_VARIABLE = "DOVERUNNER_NOTI_AWS_SECRET_KEY"  # noqa: S105
NOTI_KEYS_SECRET_VARIABLE = "DOVERUNNER_NOTI_AWS_KEYS_SECRET"  # noqa: S105


def _publisher_keys(secret_id: str) -> tuple[str, str]:
    """The publisher's keys from a Secrets Manager secret as the stack writes it (NotificationPublisherSecretArn:
    JSON with aws_access_key and aws_secret_key)."""
    import boto3

    try:
        value = boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
        keys = json.loads(value)
        access_key, secret_key = str(keys["aws_access_key"]), str(keys["aws_secret_key"])
    except Exception as exc:  # botocore raises many kinds; a malformed value is named, never shown
        reason = type(exc).__name__ if isinstance(exc, (ValueError, KeyError, TypeError)) else str(exc)
        raise CliError(
            f"cannot read the AWS keys from the secret {secret_id!r} (JSON with aws_access_key and aws_secret_key): "
            f"{reason}",
            EXIT_OTHER,
        ) from None
    redact(secret_key)
    return access_key, secret_key


def _noti_keys(args: argparse.Namespace, env: dict[str, str], required: bool) -> tuple[str | None, str | None]:
    """The AWS keys DoveRunner publishes with: from a Secrets Manager secret (--aws-keys-secret, or
    DOVERUNNER_NOTI_AWS_KEYS_SECRET), else the access key id from --aws-access-key or DOVERUNNER_NOTI_AWS_ACCESS_KEY
    and the secret key from DOVERUNNER_NOTI_AWS_SECRET_KEY only: never from the command line."""
    secret_id = args.aws_keys_secret or env.get(NOTI_KEYS_SECRET_VARIABLE)
    if secret_id:
        return _publisher_keys(secret_id)
    access_key = args.aws_access_key or env.get(NOTI_ACCESS_KEY_VARIABLE) or None
    secret_key = env.get(NOTI_SECRET_KEY_VARIABLE) or None
    if required and not access_key:
        raise CliError(f"--aws-access-key (or {NOTI_ACCESS_KEY_VARIABLE}, or --aws-keys-secret ARN) is required")
    if required and not secret_key:
        raise CliError(f"{NOTI_SECRET_KEY_VARIABLE} (or --aws-keys-secret ARN) is required")
    return access_key, secret_key


def cmd_noti(client: DoveRunnerClient, args: argparse.Namespace, err: TextIO) -> Any:
    env = dict(os.environ)
    action = args.noti_action
    if action == "register":
        access_key, secret_key = _noti_keys(args, env, True)
        noti_id = client.register_notification(args.name, args.arn, access_key or "", secret_key or "")
        return {"noti_id": noti_id}
    if action == "list":
        items = client.list_notifications()
        return {"total_count": len(items), "notifications": [n.to_dict() for n in items]}
    if action == "detail":
        return client.notification(args.noti_id).to_dict()
    if action == "update":
        access_key, secret_key = _noti_keys(args, env, False)
        return {
            "noti_id": client.update_notification(
                args.noti_id, name=args.name, aws_arn=args.arn, aws_access_key=access_key, aws_secret_key=secret_key
            )
        }
    return {"noti_id": client.delete_notification(args.noti_id), "deleted": True}


def cmd_revocations(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from antipiracy.domain.waf_rules import WafBlockError
    from doverunner_cli.log_redaction import core_logs_to
    from doverunner_cli.revocations import run
    from doverunner_cli.stack_outputs import StackError

    try:
        with core_logs_to(err, args.verbose):
            result = run(args)
        _emit(result, out)
        return 0
    except (StackError, WafBlockError, ValueError) as exc:
        err.write(f"doverunner: {exc}\n")
        return EXIT_OTHER


def cmd_jobs(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from doverunner_cli.jobs import JobsError, run
    from doverunner_cli.log_redaction import core_logs_to
    from doverunner_cli.stack_outputs import StackError

    try:
        with core_logs_to(err, args.verbose):
            result = run(args)
        _emit(result, out)
        return 0
    except (StackError, JobsError, ValueError, ClientError, BotoCoreError) as exc:  # CannotCancel, NotRetryable
        err.write(f"doverunner: {exc}\n")
        return EXIT_OTHER
    except KeyError as exc:  # a job deleted while it was being stopped or retried
        err.write(f"doverunner: {exc.args[0] if exc.args else exc}\n")
        return EXIT_OTHER


def _since(value: str) -> str:
    """--since of `jobs list`, checked when parsed (as a `created_at` stamp)."""
    from doverunner_cli.jobs import parse_since

    try:
        return parse_since(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive whole number")
    return number


def cmd_emulator(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from doverunner_local.cli import run_emulator

    return run_emulator(args, out, err)


# ---- parser -------------------------------------------------------------------------------------------------


def describe_api_error(exc: DoveRunnerApiError) -> str:
    lines = [f"doverunner: {exc.operation} failed: {exc.code} {exc.description} (HTTP {exc.http_status})"]
    if exc.error_message and exc.error_message != exc.description:
        lines.append(f"  DoveRunner said: {exc.error_message}")
    if exc.cause:
        lines.append(f"  cause: {exc.cause}")
    if exc.solution:
        lines.append(f"  solution: {exc.solution}")
    lines.append("  a retry may help" if exc.retryable else "  retrying the same request will not help")
    return "\n".join(lines) + "\n"


class _SecretOnCommandLine(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, *_args: Any, **_kwargs: Any) -> None:
        parser.error(
            f"--aws-secret-key is not accepted: a secret on the command line is visible in the process list and "
            f"the shell's history. Set {NOTI_SECRET_KEY_VARIABLE}, or pass --aws-keys-secret ARN."
        )


def build_parser() -> argparse.ArgumentParser:
    # --service works before or after the subcommand: the leaf parsers leave it unset unless given.
    leaf = argparse.ArgumentParser(add_help=False)
    leaf.add_argument("--service", default=argparse.SUPPRESS, help="FWM (PD002, default) or DWM (PD006)")

    parser = argparse.ArgumentParser(prog="doverunner", description=__doc__.split("\n\n")[0])
    parser.add_argument("--service", default=None, help="FWM (PD002, default) or DWM (PD006)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log to stderr (-vv for debug)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def waiting(p: argparse.ArgumentParser) -> None:
        p.add_argument("--wait", action="store_true", help="follow the detection to its end")
        p.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait at most (default 3600)")
        p.add_argument("--interval", type=float, default=5.0, help="seconds between status checks (default 5)")

    detect = commands.add_parser("detect", help="request a detection").add_subparsers(
        dest="kind", required=True, metavar="KIND"
    )
    for kind, help_text in (
        ("url", "a video DoveRunner downloads from a URL"),
        ("live", "a live HLS stream"),
    ):
        p = detect.add_parser(kind, parents=[leaf], help=help_text)
        p.add_argument("--title", required=True)
        p.add_argument("--file-path", required=True, help="the video URL" if kind == "url" else "the .m3u8 URL")
        p.add_argument("--demo", action="store_true", help="DoveRunner demo contents")
        waiting(p)
        p.set_defaults(handler=cmd_detect_url)
    p = detect.add_parser("upload", parents=[leaf], help="upload a file (.mp4, .mkv, .mov)")
    p.add_argument("file")
    p.add_argument("--title", help="default: the file name; a unique suffix is added (see --exact-title)")
    p.add_argument(
        "--exact-title", action="store_true", help="keep the title as given (the detection is found by title)"
    )
    p.add_argument("--demo", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--find-timeout", type=float, default=120.0, help="seconds to wait for the detection to appear")
    waiting(p)
    p.set_defaults(handler=cmd_detect_upload)

    p = commands.add_parser("list", parents=[leaf], help="list detections")
    p.add_argument("--status", help="FD001..FD007")
    p.add_argument("--keyword", help="search keyword")
    p.add_argument("--condition", choices=("title", "detection_id"), help="what the keyword matches")
    p.add_argument("--from", dest="date_from", help="created at or after, yyyy-mm-ddThh:mm:ssZ")
    p.add_argument("--to", dest="date_to", help="created at or before, yyyy-mm-ddThh:mm:ssZ")
    p.add_argument("--type", dest="types", action="append", choices=("url", "file", "stream"), help="repeatable")
    p.add_argument("--time-zone", help="hh:mm offset for the dates")
    p.add_argument("--page", type=int, default=1)
    p.add_argument("--page-size", type=int, default=25)
    p.add_argument("--all", action="store_true", help="every page")
    p.set_defaults(handler=cmd_list)

    for name, handler, help_text in (
        ("detail", cmd_detail, "a detection's detail"),
        ("stop", cmd_stop, "stop a detection in progress"),
        ("wait", cmd_wait, "follow a detection to its end"),
    ):
        p = commands.add_parser(name, parents=[leaf], help=help_text)
        p.add_argument("detection_id", type=int)
        if name == "wait":
            p.add_argument("--timeout", type=float, default=3600.0)
            p.add_argument("--interval", type=float, default=5.0)
        p.set_defaults(handler=handler)

    p = commands.add_parser("token", parents=[leaf], help="print an API token")
    p.set_defaults(handler=cmd_token)
    p = commands.add_parser("verify-token", parents=[leaf], help="verify a session's revoke token")
    p.add_argument("revoke_token")
    p.set_defaults(handler=cmd_verify_token)

    noti = commands.add_parser("noti", help="session revocation notifications (SNS)").add_subparsers(
        dest="noti_action", required=True, metavar="ACTION"
    )
    for action in ("register", "list", "detail", "update", "delete"):
        p = noti.add_parser(action, parents=[leaf])
        if action in ("detail", "update", "delete"):
            p.add_argument("noti_id", type=int)
        if action in ("register", "update"):
            required = action == "register"
            p.add_argument("--name", required=required, help="notification name")
            p.add_argument("--arn", required=required, help="SNS topic ARN")
            p.add_argument("--aws-access-key", help=f"the access key id (not secret); or {NOTI_ACCESS_KEY_VARIABLE}")
            p.add_argument(
                "--aws-keys-secret",
                metavar="ARN",
                help="a Secrets Manager secret with aws_access_key and aws_secret_key (the stack's "
                f"NotificationPublisherSecretArn); or {NOTI_KEYS_SECRET_VARIABLE}. Without it the secret key comes "
                f"from {NOTI_SECRET_KEY_VARIABLE}",
            )
            # Gone: a secret in argv is in the process list and the shell's history. Refused with the way instead.
            p.add_argument("--aws-secret-key", action=_SecretOnCommandLine, help=argparse.SUPPRESS)
        p.set_defaults(handler=cmd_noti)

    # What acts on a deployed stack, found by its outputs (doverunner_cli/stack_outputs.py).
    deployed = argparse.ArgumentParser(add_help=False)
    deployed.add_argument("--stack", default=DEFAULT_STACK, help=f"the stack's name (default {DEFAULT_STACK})")

    revocations = commands.add_parser(
        "revocations", help="blocked sessions of a deployed stack (AWS credentials; AWS_ENDPOINT_URL for the local one)"
    ).add_subparsers(dest="revocations_action", required=True, metavar="ACTION")
    for action, help_text in (
        ("list", "every revoke token in the ledger and what was done"),
        ("block", "block a session's revoke token by hand"),
        ("unblock", "lift a block"),
    ):
        p = revocations.add_parser(action, parents=[deployed], help=help_text)
        if action == "list":
            p.add_argument("--state", choices=tuple(state.value for state in RevocationState))
        else:
            p.add_argument("token", help="the revoke token (standard or URL-safe base64)")
        if action == "block":
            p.add_argument("--reason", default="", help="why, for the ledger")
            p.add_argument("--expires-in", type=int, default=30 * 24 * 3600, help="seconds (default 30 days; 0: never)")
        p.set_defaults(handler=None)

    jobs = commands.add_parser(
        "jobs", help="the jobs of a deployed stack (AWS credentials; AWS_ENDPOINT_URL for the local one)"
    ).add_subparsers(dest="jobs_action", required=True, metavar="ACTION")
    for action, help_text in (
        ("list", "the jobs, newest first, and whether submissions are paused"),
        ("show", "a job, or every job of an object key, with its report"),
        ("stop", "stop a job: at once if DoveRunner does not have it yet, else at its next check"),
        ("retry", "send a held job, or one DoveRunner refused, again; --held: every held job, lifting the pause"),
    ):
        p = jobs.add_parser(action, parents=[deployed], help=help_text)
        if action == "list":
            p.add_argument("--state", choices=tuple(state.value for state in JobState))
            p.add_argument("--outcome", choices=tuple(outcome.value for outcome in JobOutcome))
            p.add_argument(
                "--since",
                type=_since,
                metavar="T",
                help="created at or after T: 2026-12-03, 2026-12-03T10:00:00Z (UTC), or back from now: 30m, 2h, 1d",
            )
            p.add_argument("--key-prefix", metavar="P", help="only keys starting with P (e.g. inbox/dwm/)")
            p.add_argument("--limit", type=_positive, metavar="N", help="at most N jobs, the newest")
        elif action == "retry":
            p.add_argument("target", nargs="?", metavar="JOB|KEY", help="a job id (job-...) or an object key")
            p.add_argument("--held", action="store_true", help="lift the pause and send every held job again")
        else:
            p.add_argument("target", metavar="JOB|KEY", help="a job id (job-...) or an object key")
        if action == "stop":
            p.add_argument("--reason", default="", help="why, for the job's report")
        if action in ("stop", "retry"):
            p.add_argument("--by", help="who, for the job's report (default: your AWS identity's ARN, else your user)")
        p.set_defaults(handler=None)

    local = commands.add_parser("local", help="the whole pipeline on this machine").add_subparsers(
        dest="local_action", required=True, metavar="ACTION"
    )
    p = local.add_parser("up", help="deploy the app into a local AWS with the local DoveRunner; keep it running")
    p.add_argument("--step-seconds", type=float, default=1.0, help="local DoveRunner speed per status step")
    p.set_defaults(handler=None)

    p = commands.add_parser("emulator", help="run the local DoveRunner")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8480, help="0 picks a free port (default 8480)")
    p.add_argument("--step-seconds", type=float, default=1.0, help="seconds between status changes")
    p.add_argument("--aws-endpoint-url", help="AWS endpoint for SNS notifications (e.g. a local moto)")
    p.add_argument("--site-id", help="site id it accepts (default DEMO)")
    p.add_argument("--token-ttl", type=float, help="seconds a token stays valid (default 3600)")
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="fault injection, repeatable: error_rate, rate_limit_rate, latency_seconds, reset_upload_rate, seed...",
    )
    p.set_defaults(handler=None)
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose, err)
    command = " ".join(
        str(getattr(args, name))
        for name in ("command", "kind", "noti_action", "revocations_action", "jobs_action")
        if hasattr(args, name)
    )
    log.debug("doverunner %s (-vv logs the CLI's own steps; AWS and HTTP libraries stay at WARNING)", command)
    if args.command == "emulator":
        return cmd_emulator(args, out, err)
    if args.command == "revocations":
        return cmd_revocations(args, out, err)
    if args.command == "jobs":
        return cmd_jobs(args, out, err)
    if args.command == "local":
        from doverunner_local.cli import run_local_up

        return run_local_up(args, out, err)
    try:
        client = make_client(dict(os.environ), _service(args))
        log.debug(
            "DoveRunner API %s, site %s, service %s", client.config.api_url, client.config.site_id, _service(args)
        )
        _emit(args.handler(client, args, err), out)
        return 0
    except DoveRunnerApiError as exc:
        err.write(describe_api_error(exc))
        return EXIT_API
    except TransportError as exc:
        err.write(f"doverunner: {exc}\n")
        return EXIT_TRANSPORT
    except (ConfigurationError, CliError) as exc:
        err.write(f"doverunner: {exc}\n")
        return getattr(exc, "exit_code", EXIT_USAGE)
    except (DoveRunnerClientError, TimeoutError) as exc:
        err.write(f"doverunner: {exc}\n")
        return EXIT_OTHER
    except KeyboardInterrupt:
        err.write("doverunner: interrupted\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
