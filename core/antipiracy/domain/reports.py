"""A job's report: what an operator or a subscriber reads when the job ends, and the result message."""

from __future__ import annotations

import json
import re
from typing import Any

from antipiracy.domain.jobs import JobState, now_iso
from antipiracy.domain.keys import JOBS_SUFFIX, REPORT_SUFFIX, VERSION_NAME_MAX, VERSIONS_SUFFIX, key_problem
from antipiracy.domain.outcomes import DESCRIPTIONS, outcome_of
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
    "sequencer",
    "title",
    "dr_title",
    "service",
    "method",
    "detection_id",
    "created_at",
    "submitted_at",
)


# An S3 version id as it may stand in a key: plain characters, not "null" (the version of an unversioned write).
_PLAIN_VERSION = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


class ReportConflict(Exception):
    """A conditional write of a key's current report found the report changed since it was read."""


def report_key(results_prefix: str, key: str) -> str:
    """results/<input key>.json: the key's current report, the newest version's, next to what it is about."""
    return f"{results_prefix}{key}{REPORT_SUFFIX}"


def version_name(job: dict[str, Any]) -> str:
    """The object version's name in its report key: the S3 version id, or the job id when there is none (an
    unversioned bucket) or it is no plain short name."""
    version = str(job.get("version_id") or "")
    if version != "null" and len(version) <= VERSION_NAME_MAX and _PLAIN_VERSION.fullmatch(version):
        return version
    return str(job["job_id"])


def version_report_key(results_prefix: str, key: str, name: str) -> str:
    """results/<input key>.versions/<version name>.json: one object version's report, kept for good."""
    return f"{results_prefix}{key}{VERSIONS_SUFFIX}{name}{REPORT_SUFFIX}"


def rejected_report_key(results_prefix: str, job_id: str) -> str:
    """Where the report of a job whose key cannot name a report goes (domain/keys.py)."""
    return f"{results_prefix}rejected/{job_id}{REPORT_SUFFIX}"


def request_report_key(results_prefix: str, key: str, job_id: str) -> str:
    """results/<request file key>.jobs/<job id>.json: the report of one request of a request file."""
    return f"{results_prefix}{key}{JOBS_SUFFIX}{job_id}{REPORT_SUFFIX}"


def own_report_key(results_prefix: str, job: dict[str, Any]) -> str:
    """The job's own report: its version's address (a request's, for a request of a request file), or the rejected
    one when its key cannot name a report."""
    if key_problem(job["key"], results_prefix):
        return rejected_report_key(results_prefix, job["job_id"])
    if job.get("request"):
        return request_report_key(results_prefix, job["key"], job["job_id"])
    return version_report_key(results_prefix, job["key"], version_name(job))


def has_current_report(results_prefix: str, job: dict[str, Any]) -> bool:
    """Whether the job's report is also its key's current one: a dropped video's is; a request's (one file holds
    many) and one whose key cannot name a report are not."""
    return not job.get("request") and not key_problem(job["key"], results_prefix)


def newer_or_same(sequencer: str, other: str) -> bool:
    """Whether the S3 event `sequencer` comes at or after `other` on the same key: hex strings, compared after
    left-padding to equal length (S3's rule). An empty sequencer (none recorded) comes first."""
    width = max(len(sequencer), len(other))
    return sequencer.upper().rjust(width, "0") >= other.upper().rjust(width, "0")


def sequencer_of(report: Any) -> str:
    """The sequencer a stored report names (empty for a report without one)."""
    if not isinstance(report, dict) or not isinstance(report.get("input"), dict):
        return ""
    return str(report["input"].get("sequencer") or "")


def build_report(job: dict[str, Any], state: JobState, reason: str = "") -> dict[str, Any]:
    found = bool(job.get("watermark_found"))
    outcome = outcome_of(job, state)
    report: dict[str, Any] = {
        "report_version": REPORT_VERSION,
        "job_id": job["job_id"],
        "state": state.value,
        "outcome": outcome.value,
        "outcome_description": DESCRIPTIONS[outcome],
        "title": job.get("title"),
        "doverunner_title": job.get("dr_title"),
        "input": {
            "bucket": job["bucket"],
            "key": job["key"],
            "version_id": job.get("version_id"),
            "size": job.get("size"),
            "etag": job.get("etag"),
            "sha256": job.get("sha256"),
            "sequencer": job.get("sequencer"),
        },
        # A request of a request file: what it asked for and where it stands (docs/pipeline.md#requests-by-file).
        "request": job.get("request"),
        "service": job.get("service"),
        "method": job.get("method"),
        # What the video's metadata says and what the pre-flight check made of it (docs/media.md).
        "media": job.get("media"),
        "preflight": job.get("preflight"),
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
        # Who stopped it and why (an operator, a live detection's time box), or why it is held.
        "cancel": job.get("cancel"),
        "hold": job.get("hold"),
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


# A detection's status once it was stopped (FD005; its progress codes as the detail API may give them).
CANCELED_STATUSES = frozenset({"FD005", "FD510", "FD520"})


def canceled_reason(job: dict[str, Any]) -> str:
    """Who stopped a detection and why: the pipeline's own request (an operator's, a time box's) or someone else."""
    cancel = job.get("cancel")
    if isinstance(cancel, dict) and cancel.get("reason"):
        return str(cancel["reason"])
    return "the detection was stopped outside the pipeline (DoveRunner's stop API or console)"


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
        "outcome": report["outcome"],
        "title": job.get("title"),
        "bucket": job["bucket"],
        "key": job["key"],
        "detection_id": job.get("detection_id"),
        "detect_status": job.get("detect_status"),
        "watermark_found": report["watermark_found"],
        "forensic_mark": report["forensic_mark"],
        "error_code": (report["error"] or {}).get("error_code"),
        "reason": report["reason"],
        "report": {"bucket": job["bucket"], "key": key},
        "current_report": {"bucket": job["bucket"], "key": report.get("current_report_key")},
    }


def result_attributes(state: JobState, report: dict[str, Any]) -> dict[str, str]:
    """The result message's attributes, for a subscriber's filter policy."""
    return {
        "state": state.value,
        "outcome": report["outcome"],
        "watermark_found": str(report["watermark_found"]).lower(),
    }
