"""End to end on the local deployment: the pre-flight media check reads a dropped video's metadata from S3 before
any DoveRunner call (enforced, as on a real account; an object's metadata can ask for warn or off), and the local
DoveRunner judges what it is sent as DoveRunner does."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from deployed_stack import detections_titled, drop, report, request_reports, unique_key, video
from range_server import range_server

from doverunner_local.samples import COMPLIANT_SIZE
from doverunner_local.stack import LocalPipelineStack


def test_a_short_clip_is_rejected_before_any_doverunner_call(local: LocalPipelineStack) -> None:
    key = unique_key("e2e-short-clip.mp4")
    drop(local, key, video(mark="0000000000000001", short=True))

    result = report(local, key)

    assert (result["state"], result["outcome"], result["preflight"]["verdict"]) == ("REJECTED", "REJECTED", "rejected")
    assert result["reason"].startswith("D002: the video is 2.0 s long; DoveRunner needs at least 5 minutes")
    assert (result["media"]["width"], result["media"]["height"]) == (320, 240)
    assert detections_titled(local, result["doverunner_title"]) == []


def test_a_compliant_video_passes_and_its_report_carries_what_was_measured(local: LocalPipelineStack) -> None:
    key = unique_key("e2e-compliant.mkv")
    drop(local, key, video("mkv", mark="0000000000000001"))

    result = report(local, key)

    assert (result["state"], result["outcome"], result["preflight"]["verdict"]) == (
        "COMPLETED",
        "WATERMARK_FOUND",
        "passed",
    )
    media = result["media"]
    assert (media["container"], media["video_codec"], media["width"], media["height"]) == ("mkv", "h264", 854, 480)
    assert media["size"] == COMPLIANT_SIZE


def test_a_short_clip_sent_anyway_under_a_warn_override_is_failed_by_doverunner_with_d002(
    local: LocalPipelineStack,
) -> None:
    key = unique_key("e2e-warned.mp4")
    drop(local, key, video(mark="0000000000000001", short=True), Metadata={"preflight": "warn"})

    result = report(local, key)

    assert (result["state"], result["outcome"], result["preflight"]["verdict"]) == (
        "COMPLETED",
        "NOT_DETECTABLE",
        "warned",
    )
    assert [problem[:4] for problem in result["preflight"]["problems"]] == ["D002", "D004", "D005"]
    assert result["error"]["error_code"] == "D002"
    assert result["watermark_found"] is False


def test_a_url_request_is_checked_through_range_requests_and_rejected_with_what_was_measured(
    local: LocalPipelineStack,
) -> None:
    clip = video(short=True)
    key = f"inbox/requests/{uuid.uuid4().hex[:8]}-checked.json"
    with range_server({"/v/clip.mp4": clip}) as site:
        drop(local, key, json.dumps({"type": "url", "url": f"{site}/v/clip.mp4", "title": key}).encode())
        (job_report,) = request_reports(local, key, 1)

    assert (job_report["outcome"], job_report["preflight"]["verdict"]) == ("REJECTED", "rejected")
    assert [problem[:4] for problem in job_report["preflight"]["problems"]] == ["D002", "D004", "D005"]
    assert job_report["media"]["size"] == len(clip)
    assert detections_titled(local, job_report["doverunner_title"]) == []


def test_a_url_request_whose_server_answers_no_range_request_goes_unchecked_and_says_so(
    local: LocalPipelineStack, file_server: str, tmp_path: Path
) -> None:
    (tmp_path / "clip.mp4").write_bytes(video(mark="0000000000000001"))
    key = f"inbox/requests/{uuid.uuid4().hex[:8]}-unchecked.json"

    drop(local, key, json.dumps({"type": "url", "url": f"{file_server}/clip.mp4"}).encode())

    (job_report,) = request_reports(local, key, 1)
    assert (job_report["outcome"], job_report["preflight"]["verdict"]) == ("WATERMARK_FOUND", "unchecked")
    assert job_report["preflight"]["note"] == (
        "not checked: the server does not answer range requests (HTTP 200 to a Range request)"
    )
