"""End to end on the local deployment: URL and live requests dropped as files under inbox/requests/, each followed to
its own report; operators stop jobs with the CLI."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from deployed_stack import drop, read_report, request_reports, summary, video
from jobs_cli import doverunner, wait_for

from doverunner_local.stack import LocalPipelineStack


def request_key(name: str) -> str:
    return f"inbox/requests/{uuid.uuid4().hex[:8]}-{name}"


def drop_requests(local: LocalPipelineStack, key: str, requests: list[Any]) -> dict[str, Any]:
    body = "\n".join(r if isinstance(r, str) else json.dumps(r) for r in requests).encode()
    return drop(local, key, body)


def detections_named(local: LocalPipelineStack, text: str) -> list[dict[str, Any]]:
    assert local.doverunner is not None
    return [d for d in local.doverunner.emulator.snapshot()["detections"] if text in d["title"]]


def live_stream(folder: Path, name: str) -> str:
    """A clean live HLS stream (no mark: the detection runs until it is stopped); its manifest's path."""
    segment = (b"\x47" + b"\x00" * 187) * 64
    (folder / f"{name}-0.ts").write_bytes(segment)
    (folder / f"{name}.m3u8").write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\n{name}-0.ts\n")
    return f"{name}.m3u8"


def test_a_url_request_is_detected_from_its_url_and_reported(
    local: LocalPipelineStack, file_server: str, tmp_path: Path
) -> None:
    (tmp_path / "ep3.mp4").write_bytes(video(mark="0000000000000001"))
    key = request_key("one.json")

    drop_requests(local, key, [{"type": "url", "url": f"{file_server}/ep3.mp4", "title": "Episode 3 (pirate site)"}])

    (report,) = request_reports(local, key, 1)
    assert (report["state"], report["outcome"], report["method"]) == ("COMPLETED", "WATERMARK_FOUND", "url")
    assert report["request"]["url"] == f"{file_server}/ep3.mp4"
    assert "sess-1001" in report["forensic_mark"]["wm_data"]


def test_a_live_request_is_stopped_at_its_time_box_and_reported_so(
    local: LocalPipelineStack, file_server: str, tmp_path: Path
) -> None:
    manifest = live_stream(tmp_path, "match")
    key = request_key("live.json")

    drop_requests(local, key, [{"type": "live", "url": f"{file_server}/{manifest}", "max_seconds": 3}])

    (report,) = request_reports(local, key, 1)
    assert (report["state"], report["outcome"], report["method"]) == ("CANCELED", "CANCELED", "live")
    assert report["reason"] == "ended at its time box: the live detection was stopped after 3 s (max_seconds)"
    assert report["final_status"]["detect_status"] == "FD005"
    assert report["cancel"]["stop_answer"] == "stopped"


def test_a_batch_delivered_twice_and_dropped_again_unchanged_makes_one_detection_and_report_per_line(
    local: LocalPipelineStack, file_server: str, tmp_path: Path
) -> None:
    # A short clip: this server answers no range request, so it goes unchecked, and DoveRunner fails it (D002)
    # after downloading 37 KB rather than 40 MB, a hundred times.
    (tmp_path / "v.mp4").write_bytes(video(short=True))
    batch = uuid.uuid4().hex[:8]
    lines = [{"type": "url", "url": f"{file_server}/v.mp4?n={n}", "title": f"{batch} {n}"} for n in range(100)]
    key = request_key("crawler.jsonl")
    drop_requests(local, key, lines)
    first = summary(local, key, 100)
    # The same S3 event delivered again, as SQS may; then the same file dropped again (a new version).
    event = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": local.outputs["InboxBucketName"]},
             "object": {"key": key, "versionId": first["input"]["version_id"]}}}]}  # fmt: skip
    local.client("sqs").send_message(QueueUrl=local.outputs["IngestQueueUrl"], MessageBody=json.dumps(event))
    drop_requests(local, key, lines)

    reports = request_reports(local, key, 100, timeout=300)

    assert len({r["job_id"] for r in reports}) == 100
    assert {r["outcome"] for r in reports} == {"NOT_DETECTABLE"}
    titles = [d["title"] for d in detections_named(local, batch)]
    assert (len(titles), len(set(titles))) == (100, 100)


def test_bad_requests_get_reports_naming_the_problem_and_no_doverunner_call(local: LocalPipelineStack) -> None:
    marker = uuid.uuid4().hex[:8]
    bad = [
        "{not json",
        {"type": "vod", "url": "https://a.example/a.mp4", "title": marker},
        {"type": "url", "title": marker},
        {"type": "url", "url": "not-a-url", "title": marker},
        {"type": "url", "url": "ftp://a.example/a.mp4", "title": marker},
        {"type": "live", "url": "https://a.example/a.mp4", "title": marker},
        {"type": "url", "url": "https://a.example/a.mp4", "title": marker + "t" * 300},
    ]
    key = request_key("bad.jsonl")

    drop_requests(local, key, bad)

    reports = request_reports(local, key, len(bad))
    assert [r["outcome"] for r in reports] == ["REJECTED"] * len(bad)
    assert [r["reason"].split(":")[0] for r in reports] == [f"line {n}" for n in range(1, len(bad) + 1)]
    assert [r["reason"].split(": ", 1)[1][:20] for r in reports] == [
        "not JSON (Expecting ",
        "unknown type 'vod': ",
        "url is missing",
        "url scheme 'none' is",
        "url scheme 'ftp' is ",
        "a live request's url",
        "title is 308 charact",
    ]
    assert detections_named(local, marker) == []


def test_a_request_file_too_large_is_rejected_whole_with_one_report(local: LocalPipelineStack) -> None:
    key = request_key("huge.jsonl")

    drop(local, key, b" " * (1024 * 1024 + 1))

    report = wait_for("the report", lambda: read_report(local, key))
    assert (report["state"], report["outcome"]) == ("REJECTED", "REJECTED")
    assert report["reason"] == "the request file is 1048577 bytes, more than the limit of 1048576: split it"


def test_an_operator_stops_a_tracked_job_and_it_ends_canceled_with_who_and_why(
    local: LocalPipelineStack, file_server: str, tmp_path: Path
) -> None:
    manifest = live_stream(tmp_path, "final")
    key = request_key("stop.json")
    drop_requests(local, key, [{"type": "live", "url": f"{file_server}/{manifest}", "max_seconds": 240}])
    job_id = summary(local, key, 1)["requests"][0]["job_id"]
    wait_for("tracking", lambda: doverunner(local, "jobs", "show", job_id)["jobs"][0]["job"]["state"] == "TRACKING")

    answer = doverunner(local, "jobs", "stop", job_id, "--by", "ops@example.com", "--reason", "wrong stream")

    (report,) = request_reports(local, key, 1)
    assert answer["action"] == "stop_requested"
    assert (report["state"], report["outcome"]) == ("CANCELED", "CANCELED")
    assert report["reason"] == "stopped by ops@example.com: wrong stream"
