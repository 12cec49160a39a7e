"""When tracking looks again: waits grow by a factor per check, up to a cap."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from antipiracy.domain.schedule import next_wait


@dataclass(frozen=True)
class Policy:
    initial_wait_seconds: int
    max_wait_seconds: int
    wait_growth: float


def test_waits_grow_by_the_factor_from_the_initial_wait() -> None:
    policy = Policy(initial_wait_seconds=10, max_wait_seconds=10_000, wait_growth=3)

    assert [next_wait(attempt, policy) for attempt in range(4)] == [10, 30, 90, 270]


def test_waits_stop_growing_at_the_cap() -> None:
    policy = Policy(initial_wait_seconds=30, max_wait_seconds=100, wait_growth=2)

    assert [next_wait(attempt, policy) for attempt in range(5)] == [30, 60, 100, 100, 100]


def test_fractional_waits_are_rounded_down_to_whole_seconds() -> None:
    policy = Policy(initial_wait_seconds=10, max_wait_seconds=1000, wait_growth=1.5)

    assert [next_wait(attempt, policy) for attempt in range(4)] == [10, 15, 22, 33]


def test_growth_of_one_waits_the_same_every_time() -> None:
    policy = Policy(initial_wait_seconds=45, max_wait_seconds=900, wait_growth=1)

    assert {next_wait(attempt, policy) for attempt in range(10)} == {45}


def test_the_cap_holds_for_any_attempt_however_large() -> None:
    policy = Policy(initial_wait_seconds=30, max_wait_seconds=900, wait_growth=2)

    assert next_wait(10_000, policy) == 900


def test_the_cap_holds_past_what_a_float_growth_can_hold() -> None:
    # A week of checks every 300 s is 2,016 of them; 2.0 ** 2016 is past any float.
    policy = Policy(initial_wait_seconds=30, max_wait_seconds=300, wait_growth=2.0)

    assert next_wait(2016, policy) == 300


@given(
    initial=st.integers(min_value=1, max_value=3600),
    extra=st.integers(min_value=0, max_value=86_400),
    growth=st.floats(min_value=1, max_value=10),
    attempt=st.integers(min_value=0, max_value=50),
)
def test_waits_never_shrink_and_stay_within_initial_and_cap(
    initial: int, extra: int, growth: float, attempt: int
) -> None:
    policy = Policy(initial_wait_seconds=initial, max_wait_seconds=initial + extra, wait_growth=growth)

    wait, following = next_wait(attempt, policy), next_wait(attempt + 1, policy)

    assert initial <= wait <= following <= initial + extra
