"""When tracking looks at a detection again."""

from __future__ import annotations

from typing import Any, Final, Protocol

# The Check step's result when a notification ended its wait: nothing ended, nothing to wait for, check at once.
WOKEN: Final[dict[str, Any]] = {"woken_by": "notification", "terminal": False, "timed_out": False, "resubmit": False}


class WaitPolicy(Protocol):
    @property
    def initial_wait_seconds(self) -> int: ...

    @property
    def max_wait_seconds(self) -> int: ...

    @property
    def wait_growth(self) -> float: ...


def next_wait(attempt: int, policy: WaitPolicy) -> int:
    """Waits grow from the initial wait by `wait_growth` per check, up to the cap."""
    try:
        grown = policy.initial_wait_seconds * policy.wait_growth**attempt
    except OverflowError:  # a float growth past about 1,000 doublings: far past any cap
        grown = policy.max_wait_seconds
    return int(min(policy.max_wait_seconds, grown))
