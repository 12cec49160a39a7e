"""A job's report: what an operator or a subscriber reads when the job ends, and the result message."""

from __future__ import annotations

import json
import re
from typing import Any

from antipiracy.domain.jobs import JobState, now_iso
from doverunner import describe_error

REPORT_VERSION = "1"
# An API error code (A + 4 digits) or a detection failure code (D + 3 digits) of the guide, wherever it stands.
_CODE = re.compile(r"\b(?:A\d{4}|D\d{3})\b")
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


def pipeline_error(error: dict[str, Any] | None) -> dict[str, Any] | None:
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
    found = _CODE.search(message)
    if found:
        code = found.group(0)
        info = describe_error(code)
        out.update(error_code=code, description=info.description, cause=info.cause, solution=info.solution)
    return out


def result_message(job: dict[str, Any], state: JobState, report: dict[str, Any]) -> dict[str, Any]:
    """The results topic's message: the outcome, and where the report is."""
    job_id = job["job_id"]
    key = report["report_key"]
    return {
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


def result_attributes(state: JobState, report: dict[str, Any]) -> dict[str, str]:
    """The result message's attributes, for a subscriber's filter policy."""
    return {"state": state.value, "watermark_found": str(report["watermark_found"]).lower()}
