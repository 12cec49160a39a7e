"""The README's main command, run as a user runs it."""

from __future__ import annotations

import subprocess
import sys

from deployed_stack import user_environment


def test_main_command_ends_showing_the_pirate_sessions_blocked_and_others_allowed() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "doverunner_local.demo", "--step-seconds", "0.1"],
        capture_output=True,
        text=True,
        env=user_environment(),
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    blocks = done.stdout.split("Sessions blocked at the CDN")[1]
    assert blocks.count("-> BLOCKED") == 2
    (other,) = [line for line in blocks.splitlines() if "any other session: GET" in line]
    assert other.endswith("-> allowed")
    assert done.stdout.rstrip().endswith("done: 6 videos, 6 reports, 2 pirate sessions blocked")
