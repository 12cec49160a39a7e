"""The end of a job: JSON reports next to the input (its version's, and the key's current one), the job's final
state, and an event for other systems."""

from __future__ import annotations

from typing import Any

from antipiracy.domain.jobs import FINAL_STATES, UNFINISHED_STATES, JobState, StateConflict
from antipiracy.domain.reports import (
    CANCELED_STATUSES,
    FALLBACK_FIELDS,
    ReportConflict,
    build_report,
    canceled_reason,
    has_current_report,
    newer_or_same,
    own_report_key,
    pipeline_error,
    report_key,
    result_attributes,
    result_message,
    sequencer_of,
)
from antipiracy.observability import logger, metrics
from antipiracy.ports import Jobs, Objects, ResultsTopic


class Reports:
    """Reports in the input's bucket, one per object version and the key's current one:

    - results/<key>.versions/<version name>.json: each object version's own report (domain/reports.version_name),
      written every time; `report_key` names it.
    - results/<key>.json: the newest version's report. "Newest" is the S3 event's `sequencer` recorded on the job
      (ordered per key); a job replaces the current report only when its sequencer is the same or later, by a
      conditional write (If-Match the ETag read, If-None-Match when there is none), read and written again when
      another writer got there in between: an older job finishing (or rewritten) late never replaces a newer one's.
    - a key that cannot name a report (domain/keys.py): results/rejected/<job id>.json only.
    - a request of a request file: results/<file key>.jobs/<job id>.json only (the file holds many).
    """

    CURRENT_WRITE_ATTEMPTS = 10

    def __init__(self, objects: Objects, results_prefix: str) -> None:
        self._objects = objects
        self._results_prefix = results_prefix

    def write(self, job: dict[str, Any], state: JobState, reason: str = "") -> dict[str, Any]:
        """Writes the job's report, and the key's current report when the job's version is the newest; the report
        (`report_key` its own address, `current` whether it is the key's current one as written)."""
        report = build_report(job, state, reason)
        bucket, key = job["bucket"], job["key"]
        report["report_key"] = own_report_key(self._results_prefix, job)
        if not has_current_report(self._results_prefix, job):
            report.update(current_report_key=None, current=False)
        else:
            report.update(current_report_key=report_key(self._results_prefix, key), current=True)
            report["current"] = self._write_current(bucket, report)
        self._objects.put_json(bucket, report["report_key"], report)
        return report

    def _write_current(self, bucket: str, report: dict[str, Any]) -> bool:
        """Puts the report at the key's current address unless a newer version's is there; whether it did."""
        key = report["current_report_key"]
        ours = sequencer_of(report)
        # First as if the key had no report yet (its first version: the common case), so that a missing report is
        # never read: S3 answers a read of a missing key 403, not 404, to a role without s3:ListBucket.
        found: tuple[Any, str] | None = None
        for attempt in range(self.CURRENT_WRITE_ATTEMPTS):
            if attempt:
                found = self._objects.get_json(bucket, key)
                if found is not None and not newer_or_same(ours, sequencer_of(found[0])):
                    logger.info(
                        "a newer version's report is the current one: only this version's report written",
                        extra={"current_job_id": found[0].get("job_id") if isinstance(found[0], dict) else None},
                    )
                    return False
            try:
                if found is None:
                    self._objects.put_json(bucket, key, report, if_absent=True)
                else:
                    self._objects.put_json(bucket, key, report, if_match=found[1])
            except ReportConflict:
                if attempt:
                    metrics.add_metric(name="CurrentReportConflicts", unit="Count", value=1)
                continue
            return True
        raise ReportConflict(f"{key}: still changing after {self.CURRENT_WRITE_ATTEMPTS} attempts")

    def rewrite(self, job: dict[str, Any]) -> dict[str, Any]:
        """Writes a finished job's report again (a notification added to it); the key's current report only if it
        is still this job's version's (or an older one's)."""
        return self.write(job, JobState(job["state"]), str(job.get("reason") or ""))


def finish(
    job_id: str,
    outcome: str,
    *,
    jobs: Jobs,
    reports: Reports,
    results: ResultsTopic | None,
    reason: str = "",
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Writes the report, records the final state and publishes the result. `outcome`: terminal, timed_out, error."""
    job = jobs.require(job_id)
    state = {"terminal": JobState.COMPLETED, "timed_out": JobState.TIMED_OUT}.get(outcome, JobState.FAILED)
    if state is JobState.COMPLETED and str(job.get("detect_status")) in CANCELED_STATUSES:
        state = JobState.CANCELED
        reason = reason or canceled_reason(job)
    failure = pipeline_error(error)
    record_error = bool(failure) and not job.get("error")
    if failure:
        job["error"] = job.get("error") or failure
        reason = reason or f"tracking failed: {failure['message']}"
    report = reports.write(job, state, reason)
    key = report["report_key"]
    fields: dict[str, Any] = {
        "state": state.value,
        "job_outcome": report["outcome"],
        "report_key": key,
        "finished_at": report["times"]["finished_at"],
    }
    if report["reason"]:
        fields["reason"] = report["reason"]
    if record_error:
        fields["error"] = failure
    try:
        jobs.update(job_id, fields, expect=UNFINISHED_STATES)
    except StateConflict:
        logger.warning("job already finished; report rewritten", extra={"job_id": job_id})
    return publish_result(job, state, report, results)


def publish_result(
    job: dict[str, Any], state: JobState, report: dict[str, Any], results: ResultsTopic | None
) -> dict[str, Any]:
    summary = result_message(job, state, report)
    if results is not None:
        results.publish(summary, result_attributes(state, report))
    metrics.add_metric(name=f"Jobs{state.value.title().replace('_', '')}", unit="Count", value=1)
    if report["watermark_found"]:
        metrics.add_metric(name="WatermarksFound", unit="Count", value=1)
    return summary


def finish_after_failure(
    job_id: str, error: dict[str, Any], *, jobs: Jobs, reports: Reports, results: ResultsTopic | None
) -> dict[str, Any]:
    """The report step failed with `error` (a Step Functions Catch's). A job it had already finished keeps its report
    and state, the failure noted; any other gets a plain report built only from what the submit function recorded,
    with the failure as its error, and ends FAILED. Publishing the result is attempted again, never required."""
    job = jobs.require(job_id)
    failure = pipeline_error(error) or {"message": "unknown"}
    if JobState(job["state"]) in FINAL_STATES and job.get("report_key"):
        # The report and the final state were written; what failed came after (publishing the result).
        jobs.update(job_id, {"report_error": failure})
        logger.error("the report step failed after the report was written", extra={"error": failure})
        state = JobState(job["state"])
        report = {**build_report(job, state), "report_key": job["report_key"]}
    else:
        job = {name: job.get(name) for name in FALLBACK_FIELDS}
        job["error"] = failure
        state = JobState.FAILED
        reason = f"the report step failed: {failure['message']}"
        report = reports.write(job, state, reason)
        fields = {
            "state": state.value,
            "job_outcome": report["outcome"],
            "reason": reason,
            "report_error": failure,
            "report_key": report["report_key"],
            "finished_at": report["times"]["finished_at"],
        }
        try:
            jobs.update(job_id, fields, expect=UNFINISHED_STATES)
        except StateConflict:
            logger.warning("job already finished; fallback report written", extra={"job_id": job_id})
        logger.error("the report step failed: fallback report written", extra={"error": failure})
    try:
        return publish_result(job, state, report, results)
    except Exception:  # the report and the job's state are what must not be lost
        logger.exception("publishing the result failed")
        return {
            "job_id": job_id,
            "state": state.value,
            "report": {"bucket": job["bucket"], "key": report["report_key"]},
        }
