"""Requests by file through the submit service: one job, one detection and one report per request, however often
the file comes; a bad request gets a report naming its problem and no DoveRunner call."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fakes import FakeDoveRunner, MemoryJobs, MemoryObjects, MemoryResultsTopic

from antipiracy.config import PipelineConfig
from antipiracy.domain.requests import S3ObjectRef
from antipiracy.services.submit import RetryLater, Submitter
from doverunner import TransportError

BUCKET = "inbox-bucket"  # the services conftest's bucket


@pytest.fixture
def submitter(make_submitter: Callable[..., Submitter], results: MemoryResultsTopic) -> Submitter:
    return make_submitter(max_request_lines=150, with_results=results)


def url_line(n: int, **fields: Any) -> str:
    return json.dumps({"type": "url", "url": f"https://pirate.example/v/{n}.mp4", **fields})


def drop_requests(objects: MemoryObjects, lines: list[str], key: str = "inbox/requests/batch.jsonl") -> S3ObjectRef:
    return objects.add(BUCKET, key, "\n".join(lines).encode())


def test_a_url_request_registers_one_url_detection_of_that_url(
    submitter: Submitter, objects: MemoryObjects, doverunner: FakeDoveRunner
) -> None:
    ref = drop_requests(objects, [url_line(1, title="Episode 1", demo=True)], key="inbox/requests/one.json")

    (result,) = submitter.submit_all(ref)

    (request,) = doverunner.requests
    assert (result.action, request["operation"], request["file_path"]) == (
        "submitted",
        "url",
        "https://pirate.example/v/1.mp4",
    )
    assert request["title"].startswith("Episode 1 #")


def test_a_live_request_registers_a_live_detection_with_the_default_time_box(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs, doverunner: FakeDoveRunner, config: PipelineConfig
) -> None:
    ref = drop_requests(objects, [json.dumps({"type": "live", "url": "https://live.example/match/index.m3u8"})])

    (result,) = submitter.submit_all(ref)

    job = jobs.require(result.job_id)
    assert (doverunner.requests[0]["operation"], job["method"]) == ("live", "live")
    assert job["request"]["max_seconds"] == config.live_max_seconds


def test_a_batch_delivered_twice_and_dropped_again_unchanged_makes_one_detection_per_line(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs, doverunner: FakeDoveRunner
) -> None:
    lines = [url_line(n) for n in range(100)]
    ref = drop_requests(objects, lines)

    first = submitter.submit_all(ref)
    submitter.submit_all(ref)  # the same event delivered again
    again = submitter.submit_all(drop_requests(objects, lines))  # the same file dropped again: a new version

    assert len(doverunner.requests) == 100
    assert len({r.job_id for r in first}) == 100
    assert {r.action for r in again} == {"duplicate"}
    assert len(jobs.items) == 100


def test_each_request_gets_its_own_report_and_the_file_a_summary_naming_them(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs
) -> None:
    ref = drop_requests(objects, [url_line(1), "not json"])

    results = submitter.submit_all(ref)

    summary = objects.document(BUCKET, "results/inbox/requests/batch.jsonl.json")
    assert [(e["line"], e["job_id"], e["action"]) for e in summary["requests"]] == [
        (1, results[0].job_id, "submitted"),
        (2, results[1].job_id, "rejected"),
    ]
    rejected = objects.document(BUCKET, summary["requests"][1]["report_key"])
    assert summary["requests"][1]["report_key"].startswith("results/inbox/requests/batch.jsonl.jobs/job-")
    assert (rejected["outcome"], rejected["reason"]) == ("REJECTED", "line 2: not JSON (Expecting value)")


def test_bad_requests_are_rejected_with_a_report_and_no_doverunner_call(
    submitter: Submitter, objects: MemoryObjects, doverunner: FakeDoveRunner, results: MemoryResultsTopic
) -> None:
    bad = [
        "{",
        json.dumps({"type": "vod", "url": "https://a.example/a.mp4"}),
        json.dumps({"type": "url"}),
        json.dumps({"type": "url", "url": "ftp://a.example/a.mp4"}),
        json.dumps({"type": "live", "url": "https://a.example/a.mp4"}),
        json.dumps({"type": "url", "url": "https://a.example/a.mp4", "title": "t" * 300}),
    ]

    outcomes = submitter.submit_all(drop_requests(objects, bad))

    assert doverunner.requests == []
    assert [r.action for r in outcomes] == ["rejected"] * 6
    assert [m["outcome"] for m, _ in results.published] == ["REJECTED"] * 6
    assert all(m["reason"].startswith(f"line {n}: ") for n, (m, _) in enumerate(results.published, start=1))


def test_a_file_over_the_line_limit_is_rejected_whole_with_one_report(
    submitter: Submitter, objects: MemoryObjects, doverunner: FakeDoveRunner
) -> None:
    ref = drop_requests(objects, [url_line(n) for n in range(151)])

    (result,) = submitter.submit_all(ref)

    report = objects.document(BUCKET, "results/inbox/requests/batch.jsonl.json")
    assert (result.action, doverunner.requests) == ("rejected", [])
    assert report["reason"] == "the request file holds 151 requests, more than the limit of 150: split it"


def test_a_file_too_large_to_read_safely_is_rejected_unread(
    make_submitter: Any, objects: MemoryObjects, doverunner: FakeDoveRunner
) -> None:
    ref = drop_requests(objects, [url_line(n) for n in range(20)])

    (result,) = make_submitter(max_request_bytes=100).submit_all(ref)

    assert (result.action, doverunner.requests) == ("rejected", [])
    assert "more than the limit of 100" in result.detail


def test_doverunner_unreachable_for_one_request_does_not_hold_up_the_others(
    submitter: Submitter, objects: MemoryObjects, doverunner: FakeDoveRunner
) -> None:
    ref = drop_requests(objects, [url_line(1), url_line(2), url_line(3)])
    doverunner.fail_next(TransportError("connection refused", maybe_processed=False))

    with pytest.raises(RetryLater):
        submitter.submit_all(ref)
    again = submitter.submit_all(ref)  # the message comes back

    assert sorted(r["file_path"] for r in doverunner.requests if r["title"]) == [
        "https://pirate.example/v/1.mp4",
        "https://pirate.example/v/1.mp4",
        "https://pirate.example/v/2.mp4",
        "https://pirate.example/v/3.mp4",
    ]
    assert [r.action for r in again] == ["submitted", "duplicate", "duplicate"]
    assert len({d["title"] for d in doverunner.detections.values()}) == 3


def test_a_manifest_dropped_as_a_video_is_rejected_saying_where_requests_go(
    submitter: Submitter, objects: MemoryObjects, doverunner: FakeDoveRunner
) -> None:
    ref = objects.add(BUCKET, "inbox/live.m3u8", b"#EXTM3U\n")

    (result,) = submitter.submit_all(ref)

    assert (result.action, doverunner.requests) == ("rejected", [])
    assert result.detail.endswith("for a live stream or a video URL, drop a request under 'inbox/requests/'")
