"""The end of a job: a JSON report next to the input, the job's final state, and an event for other systems."""

from __future__ import annotations

import json
from typing import Any

from doverunner import describe_error
from pipeline.config import PipelineConfig
from pipeline.jobs import FINAL_STATES, JobState, JobStore, StateConflict, now_iso
from pipeline.observability import logger, metrics

REPORT_VERSION = "1"
UNFINISHED_STATES = tuple(state for state in JobState if state not in FINAL_STATES)
# What a fallback report keeps of the job: plain values the submit function wrote, nothing a later step added.
FALLBACK_FIELDS = (
    "job_id",
    "bucket",
    "key",
    "version_id",
    "size",
    "etag",
    "sha256",
    "title",
    "dr_title",
    "service",
    "method",
    "detection_id",
    "created_at",
    "submitted_at",
)


def report_key(results_prefix: str, key: str) -> str:
    """results/<input key>.json, so the report sits next to what it is about."""
    return f"{results_prefix}{key}.json"


def build_report(job: dict[str, Any], state: JobState, reason: str = "") -> dict[str, Any]:
    found = bool(job.get("watermark_found"))
    report: dict[str, Any] = {
        "report_version": REPORT_VERSION,
        "job_id": job["job_id"],
        "state": state.value,
        "title": job.get("title"),
        "doverunner_title": job.get("dr_title"),
        "input": {
            "bucket": job["bucket"],
            "key": job["key"],
            "version_id": job.get("version_id"),
            "size": job.get("size"),
            "etag": job.get("etag"),
            "sha256": job.get("sha256"),
        },
        "service": job.get("service"),
        "method": job.get("method"),
        "detection_id": job.get("detection_id"),
        "final_status": {
            "detect_status": job.get("detect_status"),
            "description": job.get("status_description"),
            "progress_status": job.get("progress_status"),
            "progress_description": job.get("progress_description"),
            "outcome": job.get("outcome"),
        },
        "watermark_found": found,
        "forensic_mark": {"wm_key": job.get("wm_key"), "wm_data": job.get("wm_data")} if found else None,
        "error": job.get("error"),
        "reason": reason or job.get("reason"),
        # The leaking session's token as blocked at the CDN (state BLOCKED), or why it was not.
        "revocation": job.get("revocation"),
        "history": job.get("history", []),
        "times": {
            "received_at": job.get("created_at"),
            "submitted_at": job.get("submitted_at"),
            "finished_at": now_iso(),
            "checks": job.get("checks", 0),
        },
    }
    return report


def write_report(
    s3: Any, results_prefix: str, job: dict[str, Any], state: JobState, reason: str = ""
) -> dict[str, Any]:
    """Writes the job's report to results/<input key>.json in the input's bucket; the report."""
    report = build_report(job, state, reason)
    report["report_key"] = report_key(results_prefix, job["key"])
    s3.put_object(
        Bucket=job["bucket"],
        Key=report["report_key"],
        Body=json.dumps(report, ensure_ascii=False, indent=2).encode("utf-8"),
        ContentType="application/json; charset=utf-8",
    )
    return report


def _pipeline_error(error: dict[str, Any] | None) -> dict[str, Any] | None:
    """A Step Functions Catch's error, with the guide's explanation when it carries a DoveRunner code."""
    if not error:
        return None
    cause = str(error.get("Cause", ""))
    try:
        parsed = json.loads(cause)
        message = str(parsed.get("errorMessage", cause))
    except (ValueError, AttributeError):
        message = cause
    out: dict[str, Any] = {"error_type": error.get("Error"), "message": message}
    for token in message.replace("(", " ").split():
        if len(token) == 5 and token[0] in "AD" and token[1:].isdigit():
            info = describe_error(token)
            out.update(error_code=token, description=info.description, cause=info.cause, solution=info.solution)
            break
    return out


def finish(
    job_id: str,
    outcome: str,
    *,
    jobs: JobStore,
    s3: Any,
    sns: Any,
    config: PipelineConfig,
    reason: str = "",
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Writes the report, records the final state and publishes the result. `outcome`: terminal, timed_out, error."""
    job = jobs.require(job_id)
    state = {"terminal": JobState.COMPLETED, "timed_out": JobState.TIMED_OUT}.get(outcome, JobState.FAILED)
    pipeline_error = _pipeline_error(error)
    record_error = bool(pipeline_error) and not job.get("error")
    if pipeline_error:
        job["error"] = job.get("error") or pipeline_error
        reason = reason or f"tracking failed: {pipeline_error['message']}"
    report = write_report(s3, config.results_prefix, job, state, reason)
    key = report["report_key"]
    fields: dict[str, Any] = {"state": state.value, "report_key": key, "finished_at": report["times"]["finished_at"]}
    if report["reason"]:
        fields["reason"] = report["reason"]
    if record_error:
        fields["error"] = pipeline_error
    try:
        jobs.update(job_id, fields, expect=UNFINISHED_STATES)
    except StateConflict:
        logger.warning("job already finished; report rewritten", extra={"job_id": job_id})
    return _publish(job, state, report, sns=sns, config=config)


def _publish(
    job: dict[str, Any], state: JobState, report: dict[str, Any], *, sns: Any, config: PipelineConfig
) -> dict[str, Any]:
    job_id = job["job_id"]
    key = report["report_key"]
    summary = {
        "type": "doverunner.detection.finished",
        "job_id": job_id,
        "state": state.value,
        "title": job.get("title"),
        "bucket": job["bucket"],
        "key": job["key"],
        "detection_id": job.get("detection_id"),
        "detect_status": job.get("detect_status"),
        "watermark_found": report["watermark_found"],
        "forensic_mark": report["forensic_mark"],
        "error_code": (report["error"] or {}).get("error_code"),
        "report": {"bucket": job["bucket"], "key": key},
    }
    if config.results_topic_arn:
        sns.publish(
            TopicArn=config.results_topic_arn,
            Message=json.dumps(summary, ensure_ascii=False),
            MessageAttributes={
                "state": {"DataType": "String", "StringValue": state.value},
                "watermark_found": {"DataType": "String", "StringValue": str(report["watermark_found"]).lower()},
            },
        )
    metrics.add_metric(name=f"Jobs{state.value.title().replace('_', '')}", unit="Count", value=1)
    if report["watermark_found"]:
        metrics.add_metric(name="WatermarksFound", unit="Count", value=1)
    return summary


def finish_after_failure(
    job_id: str, error: dict[str, Any], *, jobs: JobStore, s3: Any, sns: Any, config: PipelineConfig
) -> dict[str, Any]:
    """The report step failed with `error` (a Step Functions Catch's). A job it had already finished keeps its report
    and state, the failure noted; any other gets a plain report built only from what the submit function recorded,
    with the failure as its error, and ends FAILED. Publishing the result is attempted again, never required."""
    job = jobs.require(job_id)
    failure = _pipeline_error(error) or {"message": "unknown"}
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
        report = write_report(s3, config.results_prefix, job, state, reason)
        fields = {
            "state": state.value,
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
        return _publish(job, state, report, sns=sns, config=config)
    except Exception:  # the report and the job's state are what must not be lost
        logger.exception("publishing the result failed")
        return {
            "job_id": job_id,
            "state": state.value,
            "report": {"bucket": job["bucket"], "key": report["report_key"]},
        }
