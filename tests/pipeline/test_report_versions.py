"""One report per object version, the key's current report the newest version's: against S3 in the local AWS."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import pytest
from local_pipeline import LocalPipeline

from antipiracy.adapters.s3_objects import S3Objects
from antipiracy.domain.jobs import JobState
from antipiracy.domain.reports import ReportConflict
from antipiracy.services.report import Reports, finish
from antipiracy.services.track import check


def stored(pipeline: LocalPipeline, key: str) -> Any:
    return json.loads(pipeline.s3.get_object(Bucket=pipeline.bucket, Key=key)["Body"].read())


def job(job_id: str, version: str, sequencer: str) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "bucket": "",
        "key": "inbox/race.mp4",
        "version_id": version,
        "sequencer": sequencer,
        "state": "COMPLETED",
    }


class WriterInBetween(S3Objects):
    """S3 whose next conditional write is preceded by another writer's: the race of two report steps."""

    def __init__(self, s3: Any, other: Callable[[], object]) -> None:
        super().__init__(s3)
        self._other: Callable[[], object] | None = other

    def put_json(
        self,
        bucket: str,
        key: str,
        document: Mapping[str, Any],
        *,
        if_match: str | None = None,
        if_absent: bool = False,
    ) -> None:
        if (if_match is not None or if_absent) and self._other is not None:
            other, self._other = self._other, None
            other()
        super().put_json(bucket, key, document, if_match=if_match, if_absent=if_absent)


def test_a_write_over_a_current_report_changed_since_it_was_read_is_refused(pipeline: LocalPipeline) -> None:
    objects = S3Objects(pipeline.s3)
    objects.put_json(pipeline.bucket, "results/inbox/a.mp4.json", {"n": 1})
    found = objects.get_json(pipeline.bucket, "results/inbox/a.mp4.json")
    assert found is not None
    objects.put_json(pipeline.bucket, "results/inbox/a.mp4.json", {"n": 2})

    with pytest.raises(ReportConflict):
        objects.put_json(pipeline.bucket, "results/inbox/a.mp4.json", {"n": 3}, if_match=found[1])

    assert stored(pipeline, "results/inbox/a.mp4.json") == {"n": 2}


def test_a_first_write_finding_a_current_report_already_there_is_refused(pipeline: LocalPipeline) -> None:
    objects = S3Objects(pipeline.s3)
    objects.put_json(pipeline.bucket, "results/inbox/b.mp4.json", {"n": 1})

    with pytest.raises(ReportConflict):
        objects.put_json(pipeline.bucket, "results/inbox/b.mp4.json", {"n": 2}, if_absent=True)

    assert stored(pipeline, "results/inbox/b.mp4.json") == {"n": 1}


@pytest.mark.parametrize("current_before", [False, True], ids=["no current report yet", "an older current report"])
def test_a_newer_report_written_while_an_older_one_is_written_stays_the_current_one(
    pipeline: LocalPipeline, current_before: bool
) -> None:
    older = {**job("job-older", "v1", "0055AED6DCD90281E5"), "bucket": pipeline.bucket}
    newer = {**job("job-newer", "v2", "0055AED6DCD90281E6"), "bucket": pipeline.bucket}
    if current_before:
        Reports(S3Objects(pipeline.s3), "results/").write(
            {**older, "job_id": "job-oldest", "sequencer": "01"}, JobState.COMPLETED
        )
    newer_writer = Reports(S3Objects(pipeline.s3), "results/")
    racing = Reports(WriterInBetween(pipeline.s3, lambda: newer_writer.write(newer, JobState.COMPLETED)), "results/")

    report = racing.write(older, JobState.COMPLETED)

    assert stored(pipeline, "results/inbox/race.mp4.json")["job_id"] == "job-newer"
    assert report["current"] is False
    assert stored(pipeline, "results/inbox/race.mp4.versions/v1.json")["job_id"] == "job-older"
    assert stored(pipeline, "results/inbox/race.mp4.versions/v2.json")["job_id"] == "job-newer"


def test_an_older_report_written_in_between_is_replaced_by_the_newer_one(pipeline: LocalPipeline) -> None:
    older = {**job("job-older", "v1", "0055AED6DCD90281E5"), "bucket": pipeline.bucket}
    newer = {**job("job-newer", "v2", "0055AED6DCD90281E6"), "bucket": pipeline.bucket}
    older_writer = Reports(S3Objects(pipeline.s3), "results/")
    racing = Reports(WriterInBetween(pipeline.s3, lambda: older_writer.write(older, JobState.COMPLETED)), "results/")

    report = racing.write(newer, JobState.COMPLETED)

    assert (stored(pipeline, "results/inbox/race.mp4.json")["job_id"], report["current"]) == ("job-newer", True)


def test_the_same_key_dropped_twice_keeps_both_versions_reports_and_the_newest_is_current(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    # Given the same key dropped twice, the second drop's S3 event later on the key
    first = replace(
        pipeline.put("inbox/twice.mp4", video_bytes(mark="0000000000000001")), sequencer="0055AED6DCD90281E5"
    )
    second = replace(
        pipeline.put("inbox/twice.mp4", video_bytes(mark="0000000000000002")), sequencer="0055AED6DCD90281F0"
    )
    submitter = pipeline.submitter()
    ids = [submitter.submit(ref).job_id for ref in (first, second)]

    # When the second version's job finishes first, and then the first's
    for job_id in reversed(ids):
        state: dict[str, object] = {}
        for _ in range(200):
            state = check(job_id, state, jobs=pipeline.jobs, client=pipeline.client, config=pipeline.config)
            if state["terminal"]:
                break
            pipeline.local.emulator.wait_idle(0.05)
        finish(job_id, "terminal", jobs=pipeline.jobs, reports=pipeline.reports, results=pipeline.results_topic)

    # Then each version has its report, and the key's current report is the second version's
    firsts = stored(pipeline, f"results/inbox/twice.mp4.versions/{first.version_id}.json")
    seconds = stored(pipeline, f"results/inbox/twice.mp4.versions/{second.version_id}.json")
    current = stored(pipeline, "results/inbox/twice.mp4.json")
    assert (firsts["job_id"], firsts["forensic_mark"]["wm_key"], firsts["current"]) == (
        ids[0],
        "0000000000000001",
        False,
    )
    assert (seconds["job_id"], seconds["forensic_mark"]["wm_key"]) == (ids[1], "0000000000000002")
    assert (current["job_id"], current["current"]) == (ids[1], True)
