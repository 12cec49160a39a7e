"""The README's main command, run as a user runs it (once for this module's tests)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from deployed_stack import user_environment


@pytest.fixture(scope="module")
def demo() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "doverunner_local.demo", "--step-seconds", "0.1"],
        capture_output=True,
        text=True,
        env=user_environment(),
        timeout=300,
        check=False,
    )


def test_main_command_ends_showing_the_pirate_sessions_blocked_and_others_allowed(
    demo: subprocess.CompletedProcess[str],
) -> None:
    assert demo.returncode == 0, demo.stderr[-3000:]
    blocks = demo.stdout.split("Sessions blocked at the CDN")[1]
    assert blocks.count("-> BLOCKED") == 3
    (other,) = [line for line in blocks.splitlines() if "any other session: GET" in line]
    assert other.endswith("-> allowed")
    assert demo.stdout.rstrip().endswith("done: 7 videos, 2 requests, 9 reports, 3 pirate sessions blocked")


def test_main_command_shows_a_too_short_clip_rejected_before_any_doverunner_call(
    demo: subprocess.CompletedProcess[str],
) -> None:
    assert demo.returncode == 0, demo.stderr[-3000:]
    reports = demo.stdout.split("Reports:")[1]
    (verdict,) = [line.strip() for line in reports.splitlines() if "REJECTED without a DoveRunner call: D002" in line]
    assert verdict.startswith("REJECTED without a DoveRunner call: D002: the video is 2.0 s long")


def test_main_command_shows_a_url_request_found_and_a_live_request_ended_at_its_time_box(
    demo: subprocess.CompletedProcess[str],
) -> None:
    assert demo.returncode == 0, demo.stderr[-3000:]
    reports = demo.stdout.split("Reports:")[1]
    assert "line 1: COMPLETED (url detection" in reports
    assert "line 2: CANCELED (live detection" in reports
    assert "ended at its time box: the live detection was stopped after 6 s (max_seconds)" in reports
