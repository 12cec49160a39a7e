"""Polling until something asynchronous has happened in the local AWS."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from doverunner_local.aws import LocalAws

T = TypeVar("T")


def eventually(probe: Callable[[], T | None], timeout: float = 15.0, interval: float = 0.05) -> T:
    """The first truthy result of probe(), or a failure after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"nothing after {timeout} s from {probe}")
        time.sleep(interval)


def deliveries_ended(aws: LocalAws, timeout: float = 15.0) -> None:
    """Until the local AWS's asynchronous deliveries (S3 and SNS to Lambda, each on a thread of its own) have all
    ended: what they were to send has been sent."""

    def ended() -> bool:
        with aws.glue._threads_lock:
            return not aws.glue._threads

    eventually(ended, timeout=timeout, interval=0.01)
