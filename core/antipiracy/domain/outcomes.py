"""What happened to a job, in one word from a closed set: what an operator or a subscriber acts on.

Every report and every result message carries one (`outcome`), also as the result message's attribute, so that a
subscriber can filter on it (docs/pipeline.md#outcomes).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from antipiracy.domain.jobs import JobState


class JobOutcome(StrEnum):
    WATERMARK_FOUND = "WATERMARK_FOUND"  # FD004 with a forensic mark: the leaking session is named
    NO_WATERMARK = "NO_WATERMARK"  # FD004 without one
    NOT_DETECTABLE = "NOT_DETECTABLE"  # FD007: DoveRunner could not read the video (its D-code says why)
    DETECTION_ERROR = "DETECTION_ERROR"  # FD006: DoveRunner's detection failed
    CANCELED = "CANCELED"  # FD005: stopped by an operator or at a live detection's time box (the reason says which)
    TIMED_OUT = "TIMED_OUT"  # no end within the maximum tracking time
    REJECTED = "REJECTED"  # refused before any DoveRunner call (the reason says why)
    REFUSED = "REFUSED"  # DoveRunner refused the request (its A-code says why)
    HELD = "HELD"  # not sent yet: submissions are paused (quota or credentials); sent when the operator resumes them
    PIPELINE_ERROR = "PIPELINE_ERROR"  # the pipeline could not follow or report the detection (the error says why)


DESCRIPTIONS = {
    JobOutcome.WATERMARK_FOUND: "DoveRunner found the forensic watermark: the report names the leaking session",
    JobOutcome.NO_WATERMARK: "the detection completed without finding a watermark",
    JobOutcome.NOT_DETECTABLE: "DoveRunner could not detect in this video (FD007): see the error's cause and solution",
    JobOutcome.DETECTION_ERROR: "DoveRunner's detection ended in error (FD006)",
    JobOutcome.CANCELED: "the job was stopped: by an operator, at a live detection's time box, or outside the "
    "pipeline (the reason says who and why)",
    JobOutcome.TIMED_OUT: "the detection did not end within the maximum tracking time",
    JobOutcome.REJECTED: "refused before any DoveRunner call: see the reason",
    JobOutcome.REFUSED: "DoveRunner refused the detection request: see the error's code, cause and solution",
    JobOutcome.HELD: "held, not sent: DoveRunner refused the site's quota or credentials and submissions are paused; "
    "it is sent once they resume (`doverunner jobs retry --held`, or the periodic probe)",
    JobOutcome.PIPELINE_ERROR: "the pipeline failed while following or reporting the job: see the error",
}

# The detection's top-level status (as the detail API gives it, progress codes included) -> the outcome.
_BY_STATUS = {
    "FD005": JobOutcome.CANCELED,
    "FD510": JobOutcome.CANCELED,
    "FD520": JobOutcome.CANCELED,
    "FD006": JobOutcome.DETECTION_ERROR,
    "FD600": JobOutcome.DETECTION_ERROR,
    "FD007": JobOutcome.NOT_DETECTABLE,
    "FD700": JobOutcome.NOT_DETECTABLE,
}


def outcome_of(job: dict[str, Any], state: JobState) -> JobOutcome:
    """The outcome of a job that ends in `state`, from what it recorded."""
    if state is JobState.REJECTED:
        return JobOutcome.REJECTED
    if state is JobState.TIMED_OUT:
        return JobOutcome.TIMED_OUT
    if state is JobState.HELD:
        return JobOutcome.HELD
    if state is JobState.CANCELED:
        return JobOutcome.CANCELED
    if state is JobState.FAILED:
        return JobOutcome.REFUSED if job.get("refused_by_doverunner") else JobOutcome.PIPELINE_ERROR
    status = str(job.get("detect_status") or "")
    if status in ("FD004", "FD400"):
        return JobOutcome.WATERMARK_FOUND if job.get("watermark_found") else JobOutcome.NO_WATERMARK
    return _BY_STATUS.get(status, JobOutcome.PIPELINE_ERROR)
