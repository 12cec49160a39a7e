"""Pre-flight through the local AWS and the local DoveRunner: videos made by FFmpeg (tests/support/media_corpus.py)
dropped into S3, read with real ranged GETs; each D-code rejected with no DoveRunner call, warn and the per-object
override submitted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from local_pipeline import LocalPipeline
from media_corpus import CorpusFile, build_corpus

from antipiracy.domain.preflight import Policy

CACHE = Path(__file__).resolve().parents[2] / ".cache" / "media-corpus"  # .cache/ is ignored by git
# The corpus is made once, by the worker that runs tests/integration/test_media_corpus.py too.
pytestmark = pytest.mark.xdist_group("media-corpus")


@pytest.fixture(scope="module")
def corpus() -> dict[str, CorpusFile]:
    return {file.name: file for file in build_corpus(CACHE)}


def drop(pipeline: LocalPipeline, corpus: dict[str, CorpusFile], name: str, **extra: Any) -> Any:
    return pipeline.put(f"inbox/{name}", corpus[name].path.read_bytes(), **extra)


def report(pipeline: LocalPipeline, job_id: str) -> dict[str, Any]:
    job = pipeline.jobs.require(job_id)
    body = pipeline.s3.get_object(Bucket=pipeline.bucket, Key=job["report_key"])["Body"].read()
    return dict(json.loads(body))


@pytest.mark.parametrize(
    ("name", "codes"),
    [
        ("h264_720p_10s_1.3mbps.mp4", ["D002"]),
        ("mpeg4_720p_6m_1.3mbps.mp4", ["D003"]),
        ("h264_360p_6m_moovlast_low.mp4", ["D004", "D005"]),
        ("h264_480p_6m_low.mkv", ["D005"]),
        ("text_renamed.mp4", ["D011"]),
    ],
)
def test_a_video_doverunner_cannot_read_is_rejected_with_its_codes_and_nothing_sent(
    pipeline: LocalPipeline, corpus: dict[str, CorpusFile], name: str, codes: list[str]
) -> None:
    ref = drop(pipeline, corpus, name)

    result = pipeline.submitter(preflight=Policy.ENFORCE).submit(ref)

    found = report(pipeline, result.job_id)
    assert (result.action, found["outcome"]) == ("rejected", "REJECTED")
    assert [problem[:4] for problem in found["preflight"]["problems"]] == codes
    assert pipeline.local.emulator.requests_seen == []


def test_a_video_doverunner_can_read_is_submitted_after_reading_a_few_kib(
    pipeline: LocalPipeline, corpus: dict[str, CorpusFile]
) -> None:
    ref = drop(pipeline, corpus, "h264_720p_6m_moovlast_1.3mbps.mp4")

    result = pipeline.submitter(preflight=Policy.ENFORCE).submit(ref)

    job = pipeline.jobs.require(result.job_id)
    assert (result.action, job["preflight"]["verdict"]) == ("submitted", "passed")
    assert (job["media"]["width"], job["media"]["height"], job["media"]["video_codec"]) == (1280, 720, "h264")
    assert job["media"]["bytes_read"] <= 64 * 1024


def test_under_warn_a_short_clip_is_submitted_with_the_warning(
    pipeline: LocalPipeline, corpus: dict[str, CorpusFile]
) -> None:
    ref = drop(pipeline, corpus, "h264_720p_10s_1.3mbps.mp4")

    result = pipeline.submitter(preflight=Policy.WARN).submit(ref)

    job = pipeline.jobs.require(result.job_id)
    assert (result.action, job["preflight"]["verdict"]) == ("submitted", "warned")
    assert job["preflight"]["problems"][0].startswith("D002: the video is 10.0 s long")


def test_an_objects_metadata_overrides_enforce_for_itself(
    pipeline: LocalPipeline, corpus: dict[str, CorpusFile]
) -> None:
    ref = drop(pipeline, corpus, "h264_720p_10s_1.3mbps.mp4", Metadata={"preflight": "off"})

    result = pipeline.submitter(preflight=Policy.ENFORCE).submit(ref)

    assert (result.action, pipeline.jobs.require(result.job_id)["preflight"]["verdict"]) == ("submitted", "off")
