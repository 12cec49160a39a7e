"""The catalogs hold every status and error code of the API guide, with what each means."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from doverunner.codes import (
    DETECTION_FAILURE_CODES,
    ERROR_CODES,
    STATUS_CODES,
    Outcome,
    describe_error,
    describe_status,
    service_code,
)

GUIDE = Path(__file__).resolve().parents[3] / "shared" / "doverunner" / "detection-api-guide.txt"


@pytest.fixture(scope="module")
def guide() -> str:
    if not GUIDE.exists():
        pytest.skip(f"the API guide is not beside the checkout ({GUIDE})")
    return GUIDE.read_text(encoding="utf-8")


def _codes(text: str, pattern: str) -> set[str]:
    return set(re.findall(rf"^({pattern}) \|", text, flags=re.MULTILINE))


def test_every_status_code_of_the_guide_is_in_the_catalog(guide: str) -> None:
    assert _codes(guide, r"FD\d{3}") - set(STATUS_CODES) == set()


def test_every_a_code_of_the_guide_is_in_the_catalog(guide: str) -> None:
    assert _codes(guide, r"A\d{4}") - set(ERROR_CODES) == set()


def test_every_d_code_of_the_guide_is_in_the_catalog(guide: str) -> None:
    assert _codes(guide, r"D\d{3}") - set(DETECTION_FAILURE_CODES) == set()


def test_guide_descriptions_are_kept_for_a_codes(guide: str) -> None:
    for code, info in ERROR_CODES.items():
        assert f"{code} | {info.description} |" in guide, code


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("FD004", Outcome.SUCCESS),
        ("FD400", Outcome.SUCCESS),
        ("FD005", Outcome.CANCELED),
        ("FD520", Outcome.CANCELED),
        ("FD006", Outcome.ERROR),
        ("FD600", Outcome.ERROR),
        ("FD007", Outcome.FAILED),
        ("FD700", Outcome.FAILED),
    ],
)
def test_terminal_statuses_say_how_the_detection_ended(code: str, outcome: Outcome) -> None:
    assert describe_status(code).terminal
    assert describe_status(code).outcome is outcome


@pytest.mark.parametrize(
    "code", ["FD001", "FD002", "FD210", "FD220", "FD003", "FD311", "FD312", "FD321", "FD322", "FD510"]
)
def test_running_statuses_are_not_terminal(code: str) -> None:
    assert not describe_status(code).terminal


def test_fd007_is_known_though_the_guide_does_not_list_it() -> None:
    assert describe_status("FD007").description == "Failed"


def test_progress_codes_belong_to_their_top_level_status() -> None:
    assert describe_status("FD311").parent == "FD003"
    assert describe_status("FD520").parent == "FD005"


def test_unknown_status_is_reported_and_never_terminal() -> None:
    info = describe_status("FD999")

    assert not info.terminal
    assert "Unknown" in info.description


def test_api_error_carries_cause_solution_and_retryability() -> None:
    info = describe_error("A4028")

    assert info.cause == "Cannot stop job that is already finished"
    assert info.solution.startswith("Check job status")
    assert info.retryable is False


def test_token_errors_are_marked_retryable_because_a_new_token_helps() -> None:
    assert describe_error("A9001").retryable
    assert describe_error("A9002").retryable


def test_d_code_explains_what_the_operator_can_do() -> None:
    info = describe_error("D002")

    assert info.description == "The length of the video is less than 5 minutes."
    assert "5 minutes" in info.solution


def test_undocumented_code_still_gets_a_readable_entry() -> None:
    assert "D2001" in describe_error("D2001").description


@pytest.mark.parametrize(
    ("given", "code"), [("FWM", "PD002"), ("dwm", "PD006"), ("PD002", "PD002"), ("PD009", "PD009")]
)
def test_service_names_and_product_codes_map_to_product_codes(given: str, code: str) -> None:
    assert service_code(given) == code


def test_unknown_service_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="FWM"):
        service_code("XYZ")
