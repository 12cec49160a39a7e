"""The CLI's logging: `-v`/`-vv` turn on the CLI's own loggers only, and every line is redacted of known secrets.

Why: the CLI used to call `logging.basicConfig(level=DEBUG)` for `-vv`, which set the *root* logger to DEBUG and so
turned on every library's debug logs. botocore's are wire logs: `botocore.auth` logs the canonical request and
`botocore.endpoint` every request's headers, both with `x-amz-security-token` (AWS_SESSION_TOKEN) and the
`Authorization` header (access key id, signature); urllib3 logs connections. So `doverunner -vv revocations list`
printed the session token.

Now: the root logger stays at WARNING; only the CLI's own packages (OWN_LOGGERS) go to INFO/DEBUG; the wire
loggers (WIRE_LOGGERS) are held at WARNING whatever else configures them; and the handler's formatter removes, as
a second line of defence, the values of the known secret variables (and of secrets the CLI reads at run time, e.g.
from Secrets Manager) and the values of credential headers and fields.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TextIO

OWN_LOGGERS = ("doverunner", "doverunner_cli", "doverunner_local", "antipiracy")
# Libraries whose debug logs carry requests, headers, signatures or bodies: never below WARNING.
WIRE_LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3", "requests")
# Variables whose values are credentials (the access key id is no secret, but it is half of one: hidden too).
SECRET_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "DOVERUNNER_SITE_KEY",
    "DOVERUNNER_ACCESS_KEY",
    "DOVERUNNER_ACCOUNT_ACCESS_KEY",
    "DOVERUNNER_NOTI_AWS_ACCESS_KEY",
    "DOVERUNNER_NOTI_AWS_SECRET_KEY",
)
# Shorter values would match ordinary words and numbers: such a value is no credential anyway.
MIN_SECRET_LENGTH = 8
MASK = "***"
# A credential header or field, then its value up to the end of the quoted string, field or line.
_SECRET_FIELD = re.compile(
    r"(?i)(\b(?:authorization|x-amz-security-token|x-amz-signature|x-amz-credential|aws_secret_access_key"
    r"|aws_session_token|secret_?key|site_?key|access_?key|session_?token|signature|credential)['\"]?\s*[:=]\s*b?['\"]?)"
    r"([^'\"\r\n,&}]+)"
)

_secrets: set[str] = set()


def redact(*values: str | None) -> None:
    """Adds secret values (e.g. read from Secrets Manager) to those every log line is cleaned of."""
    _secrets.update(v for v in values if v and len(v) >= MIN_SECRET_LENGTH)


def redact_environment(environment: Mapping[str, str], names: Iterable[str] = SECRET_VARIABLES) -> None:
    redact(*(environment.get(name) for name in names))


def redacted(text: str) -> str:
    # Longest first, so a secret that contains another is removed whole.
    for value in sorted(_secrets, key=len, reverse=True):
        text = text.replace(value, MASK)
    return _SECRET_FIELD.sub(lambda match: match.group(1) + MASK, text)


class RedactingFormatter(logging.Formatter):
    """Formats as usual (message, exception, stack), then removes every known secret from the line."""

    def format(self, record: logging.LogRecord) -> str:
        return redacted(super().format(record))


def configure_logging(verbosity: int, stream: TextIO) -> None:
    """`-v`: INFO, `-vv`: DEBUG, for the CLI's own loggers only, on `stream`, redacted."""
    redact_environment(os.environ)
    root = logging.getLogger()
    # As logging.basicConfig: a host that configured logging already (a test run, an embedding program) keeps it.
    if not root.handlers:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.WARNING)
    if verbosity <= 0:
        return
    level = logging.INFO if verbosity == 1 else logging.DEBUG
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(level)
    for name in WIRE_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


class _RedactingStream:
    """A text stream that writes what it is given with the known secrets removed (`redacted`)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(redacted(text))

    def flush(self) -> None:
        self._stream.flush()


@contextmanager
def core_logs_to(stream: TextIO, verbosity: int) -> Iterator[None]:
    """The core's Powertools logger (JSON lines, on stdout for the functions' CloudWatch logs) on `stream` instead
    while a command runs, at WARNING (INFO with -v, DEBUG with -vv), each line redacted as the CLI's own: stdout is
    the command's JSON result alone."""
    from antipiracy.observability import logger as core

    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    underlying = logging.getLogger(core.name)
    handler = core.registered_handler
    kept = underlying.level, underlying.propagate
    target = _RedactingStream(stream)
    old_stream = handler.setStream(target) if isinstance(handler, logging.StreamHandler) else None
    underlying.setLevel(level)
    underlying.propagate = False  # once is enough: not again through the root logger's handler
    try:
        yield
    finally:
        underlying.setLevel(kept[0])
        underlying.propagate = kept[1]
        if old_stream is not None and isinstance(handler, logging.StreamHandler):
            handler.setStream(old_stream)
