"""Pre-flight in the submit path: a video DoveRunner cannot read is rejected before any DoveRunner call (enforce),
submitted with a warning (warn) or not checked (off); an object's metadata may say otherwise for itself."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fakes import FakeDoveRunner, MemoryJobs, MemoryObjects
from iso_media import ftyp, mdat_header, moov, mvhd, trak

from antipiracy.domain.jobs import job_id_for
from antipiracy.domain.preflight import Policy, Unchecked
from antipiracy.domain.requests import S3ObjectRef
from antipiracy.services.submit import Submitter

BUCKET = "inbox-bucket"  # the services conftest's bucket
MB = 1_000_000


def mp4_video(
    *, seconds: float = 360, fourcc: bytes = b"avc1", size: tuple[int, int] = (1280, 720), total: int = 46 * MB
) -> bytes:
    """An MP4 (moov first) whose metadata says `seconds` long, codec `fourcc`, `size`; `total` bytes in all."""
    head = ftyp() + moov(mvhd(1000, int(seconds * 1000)), trak(fourcc, size))
    return head + mdat_header(total - len(head)) + bytes(total - len(head) - 8)


SHORT_CLIP = mp4_video(seconds=2, size=(320, 240), total=64 * 1024)


@pytest.fixture
def enforcing(make_submitter: Callable[..., Submitter]) -> Submitter:
    return make_submitter(preflight=Policy.ENFORCE)


def drop(objects: MemoryObjects, body: bytes, key: str = "inbox/movie.mp4", **metadata: str) -> S3ObjectRef:
    return objects.add(BUCKET, key, body, metadata=metadata)


def report_of(objects: MemoryObjects, jobs: MemoryJobs, ref: S3ObjectRef) -> dict[str, Any]:
    job = jobs.require(job_id_for(ref.bucket, ref.key, ref.version))
    return dict(objects.document(BUCKET, job["report_key"]))


def test_a_compliant_video_passes_reading_only_its_metadata_and_is_submitted(
    enforcing: Submitter, objects: MemoryObjects, jobs: MemoryJobs, doverunner: FakeDoveRunner
) -> None:
    ref = drop(objects, mp4_video())

    result = enforcing.submit(ref)

    job = jobs.require(result.job_id)
    assert (result.action, job["preflight"]["verdict"]) == ("submitted", "passed")
    assert job["media"]["video_codec"] == "h264"
    assert sum(length for _, _, length in objects.ranges) <= 1024 * 1024
    assert len(doverunner.requests) == 1


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (mp4_video(seconds=2), "D002: the video is 2.0 s long; DoveRunner needs at least 5 minutes"),
        (mp4_video(fourcc=b"mp4v"), "D003: "),
        (mp4_video(size=(640, 360)), "D004: "),
        (mp4_video(total=20 * MB), "D005: "),
        (b"this is no video, only text\n" * 100, "D011: the bytes are no video container"),
    ],
)
def test_under_enforce_a_video_doverunner_cannot_read_is_rejected_naming_the_code_and_no_call_is_made(
    enforcing: Submitter,
    objects: MemoryObjects,
    jobs: MemoryJobs,
    doverunner: FakeDoveRunner,
    body: bytes,
    problem: str,
) -> None:
    ref = drop(objects, body)

    result = enforcing.submit(ref)

    report = report_of(objects, jobs, ref)
    assert (result.action, report["outcome"]) == ("rejected", "REJECTED")
    assert report["reason"].startswith(problem), report["reason"]
    assert report["preflight"]["verdict"] == "rejected"
    assert doverunner.requests == []


def test_every_requirement_not_met_is_named_with_what_was_measured(
    enforcing: Submitter, objects: MemoryObjects, jobs: MemoryJobs
) -> None:
    ref = drop(objects, SHORT_CLIP)

    enforcing.submit(ref)

    report = report_of(objects, jobs, ref)
    assert [p[:4] for p in report["preflight"]["problems"]] == ["D002", "D004", "D005"]
    assert (report["media"]["width"], report["media"]["height"], report["media"]["duration_seconds"]) == (
        320,
        240,
        2.0,
    )


def test_an_mp4_whose_metadata_cannot_be_read_is_rejected_saying_so(
    enforcing: Submitter, objects: MemoryObjects, jobs: MemoryJobs, doverunner: FakeDoveRunner
) -> None:
    body = ftyp() + mdat_header(4096) + bytes(4088)  # no moov box
    ref = drop(objects, body)

    enforcing.submit(ref)

    assert report_of(objects, jobs, ref)["reason"].startswith("the video's metadata cannot be read (no moov box")
    assert doverunner.requests == []


def test_under_warn_it_is_submitted_and_the_report_says_what_doverunner_will_likely_refuse(
    make_submitter: Callable[..., Submitter], objects: MemoryObjects, jobs: MemoryJobs, doverunner: FakeDoveRunner
) -> None:
    result = make_submitter(preflight=Policy.WARN).submit(drop(objects, SHORT_CLIP))

    job = jobs.require(result.job_id)
    assert (result.action, job["preflight"]["verdict"]) == ("submitted", "warned")
    assert job["preflight"]["note"].startswith("submitted anyway (pre-flight policy warn)")
    assert len(doverunner.requests) == 1


def test_under_off_nothing_is_read_before_the_upload(
    make_submitter: Callable[..., Submitter], objects: MemoryObjects, jobs: MemoryJobs
) -> None:
    result = make_submitter(preflight=Policy.OFF).submit(drop(objects, SHORT_CLIP))

    assert (result.action, jobs.require(result.job_id)["preflight"]["verdict"]) == ("submitted", "off")
    assert objects.ranges == []


@pytest.mark.parametrize(("override", "verdict"), [("warn", "warned"), ("off", "off"), ("OFF", "off")])
def test_an_objects_metadata_overrides_the_policy_for_itself(
    enforcing: Submitter, objects: MemoryObjects, jobs: MemoryJobs, override: str, verdict: str
) -> None:
    result = enforcing.submit(drop(objects, SHORT_CLIP, preflight=override))

    assert (result.action, jobs.require(result.job_id)["preflight"]["verdict"]) == ("submitted", verdict)


def test_an_unknown_policy_in_the_metadata_is_rejected_naming_it(
    enforcing: Submitter, objects: MemoryObjects, doverunner: FakeDoveRunner
) -> None:
    result = enforcing.submit(drop(objects, SHORT_CLIP, preflight="maybe"))

    assert (result.action, doverunner.requests) == ("rejected", [])
    assert result.detail == "the object's metadata preflight: unknown pre-flight policy 'maybe': enforce, warn or off"


class RangeReads:
    """URL requests' videos (ports.RemoteMedia) from a dict; a URL it lacks answers no range request."""

    def __init__(self, videos: dict[str, bytes]) -> None:
        self.videos = videos

    def open(self, url: str) -> tuple[Callable[[int, int], bytes], int]:
        if url not in self.videos:
            raise Unchecked("the server does not answer range requests (HTTP 200 to a Range request)")
        body = self.videos[url]
        return (lambda offset, length: body[offset : offset + length]), len(body)


def url_request(objects: MemoryObjects, url: str) -> S3ObjectRef:
    return objects.add(BUCKET, "inbox/requests/one.json", json.dumps({"type": "url", "url": url}).encode())


@pytest.fixture
def checking_urls(make_submitter: Callable[..., Submitter]) -> Submitter:
    videos = RangeReads({"https://pirate.example/clip.mp4": SHORT_CLIP})
    return make_submitter(preflight=Policy.ENFORCE, with_remote_media=videos)


def test_a_url_requests_video_read_in_ranges_is_rejected_like_a_dropped_one(
    checking_urls: Submitter, objects: MemoryObjects, jobs: MemoryJobs, doverunner: FakeDoveRunner
) -> None:
    (result,) = checking_urls.submit_all(url_request(objects, "https://pirate.example/clip.mp4"))

    assert (result.action, doverunner.requests) == ("rejected", [])
    assert result.detail.startswith("D002: the video is 2.0 s long")


def test_a_url_whose_server_answers_no_range_request_goes_through_unchecked_saying_so(
    checking_urls: Submitter, objects: MemoryObjects, jobs: MemoryJobs
) -> None:
    (result,) = checking_urls.submit_all(url_request(objects, "https://other.example/clip.mp4"))

    check = jobs.require(result.job_id)["preflight"]
    assert (result.action, check["verdict"]) == ("submitted", "unchecked")
    assert check["note"] == "not checked: the server does not answer range requests (HTTP 200 to a Range request)"
