"""Which object keys can name a report (domain/keys.py), and where each version's report goes (domain/reports.py)."""

from __future__ import annotations

import pytest

from antipiracy.domain.keys import LONGEST_REPORT_TAIL, S3_KEY_MAX_BYTES, key_problem
from antipiracy.domain.reports import newer_or_same, own_report_key, version_name, version_report_key


@pytest.mark.parametrize("key", ["inbox/movie.mp4", "inbox/dwm/clean rip.mov", "inbox/드라마 1화.mkv", "inbox/..mp4"])
def test_ordinary_keys_can_name_a_report(key: str) -> None:
    assert key_problem(key, "results/") == ""


@pytest.mark.parametrize("key", ["inbox/../x.mp4", "../inbox/x.mp4", "inbox/sub/..", "inbox/a/../../x.mp4"])
def test_a_dot_dot_segment_is_refused(key: str) -> None:
    assert "'..' path segment" in key_problem(key, "results/")


@pytest.mark.parametrize("key", ["inbox/./x.mp4", "./inbox/x.mp4", "inbox/."])
def test_a_dot_segment_is_refused(key: str) -> None:
    assert "'.' path segment" in key_problem(key, "results/")


@pytest.mark.parametrize(("char", "shown"), [("\x00", "0x00"), ("\t", "0x09"), ("\x1f", "0x1f"), ("\x7f", "0x7f")])
def test_a_control_character_is_refused_and_named(char: str, shown: str) -> None:
    assert shown in key_problem(f"inbox/a{char}b.mp4", "results/")


def test_a_key_whose_longest_report_key_fits_exactly_is_taken() -> None:
    key = "k" * (S3_KEY_MAX_BYTES - LONGEST_REPORT_TAIL - len("results/"))

    assert key_problem(key, "results/") == ""


def test_a_key_one_byte_too_long_for_its_longest_report_key_is_refused() -> None:
    key = "k" * (S3_KEY_MAX_BYTES - LONGEST_REPORT_TAIL - len("results/") + 1)

    assert "too long for its report key" in key_problem(key, "results/")


def test_length_is_counted_in_utf8_bytes() -> None:
    room = S3_KEY_MAX_BYTES - LONGEST_REPORT_TAIL - len("results/")

    assert "too long" in key_problem("가" * (room // 3 + 1), "results/")


def test_the_longest_version_report_key_is_within_s3s_limit() -> None:
    key = "k" * (S3_KEY_MAX_BYTES - LONGEST_REPORT_TAIL - len("results/"))
    job = {"job_id": "job-" + "0" * 40, "key": key, "version_id": "V" * 64}

    assert len(own_report_key("results/", job).encode()) == S3_KEY_MAX_BYTES


@pytest.mark.parametrize(
    ("version_id", "named"),
    [
        ("3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY", "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY"),
        (None, "job-1"),
        ("null", "job-1"),
        ("a/b", "job-1"),
        (".hidden", "job-1"),
        ("v" * 65, "job-1"),
    ],
)
def test_a_version_is_named_by_its_plain_version_id_else_by_its_job_id(version_id: str | None, named: str) -> None:
    assert version_name({"job_id": "job-1", "version_id": version_id}) == named


def test_a_versions_report_sits_beside_the_keys_current_report() -> None:
    assert version_report_key("results/", "inbox/a.mp4", "v1") == "results/inbox/a.mp4.versions/v1.json"


@pytest.mark.parametrize(
    ("sequencer", "other", "expected"),
    [
        ("0055B1A8F0E1D2C302", "0055B1A8F0E1D2C301", True),
        ("0055B1A8F0E1D2C301", "0055B1A8F0E1D2C302", False),
        ("0055B1A8F0E1D2C301", "0055B1A8F0E1D2C301", True),
        ("FF", "00000000A0", True),
        ("A0", "000000FF", False),
        ("0a", "09", True),
        ("01", "", True),
        ("", "01", False),
    ],
)
def test_sequencers_are_ordered_as_left_padded_hex(sequencer: str, other: str, expected: bool) -> None:
    assert newer_or_same(sequencer, other) is expected
