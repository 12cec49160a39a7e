"""The CLI's commands that run the core (`jobs`, `revocations`) keep stdout for their JSON: the core's log lines go
to stderr, at the verbosity asked for, redacted like the CLI's own."""

from __future__ import annotations

import io
import logging

from antipiracy.observability import logger as core
from doverunner_cli.log_redaction import core_logs_to, redact


def test_core_log_lines_go_to_the_given_stream_redacted() -> None:
    redact("not-a-real-secret-4242")
    err = io.StringIO()

    with core_logs_to(err, 0):
        core.warning("the key not-a-real-secret-4242 was used")

    assert "the key " in err.getvalue()
    assert "not-a-real-secret-4242" not in err.getvalue()


def test_core_info_lines_are_shown_only_with_v() -> None:
    quiet, verbose = io.StringIO(), io.StringIO()

    with core_logs_to(quiet, 0):
        core.info("resumed")
    with core_logs_to(verbose, 1):
        core.info("resumed")

    assert (quiet.getvalue(), "resumed" in verbose.getvalue()) == ("", True)


def test_the_core_logger_is_given_back_as_it_was() -> None:
    underlying = logging.getLogger(core.name)
    before = (underlying.level, underlying.propagate)

    with core_logs_to(io.StringIO(), 2):
        pass

    assert (underlying.level, underlying.propagate) == before
