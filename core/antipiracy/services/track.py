"""One check of a tracked job: find its detection, read its status, record it, say when to look again."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from antipiracy.config import PipelineConfig
from antipiracy.domain.jobs import FINAL_STATES, now_iso, seconds_since, uploads_of
from antipiracy.domain.schedule import next_wait
from antipiracy.observability import logger
from antipiracy.ports import DetectionApi, Executions, Jobs
from antipiracy.services.wake import keep_or_wake
from doverunner import Detection, DoveRunnerApiError, describe_status

TIME_BOX = "time box"  # who stops a live detection whose max_seconds have passed

# Uploads of one job whose answer never came, before the job is reported as timed out: each is one
# `find_upload_seconds` apart, and none spends quota unless DoveRunner stored it (then it is found, not repeated).
MAX_UPLOADS = 10


class JobEnded(Exception):
    """The job reached a final state outside tracking; the state machine writes its failure report."""


def detection_fields(detection: Detection) -> dict[str, Any]:
    """What a check records on the job: the codes and what they mean."""
    progress = detection.detect_progress_status
    return {
        "detection_id": detection.detection_id,
        "detect_status": detection.detect_status,
        "status_description": describe_status(detection.detect_status).description,
        "progress_status": progress,
        "progress_description": describe_status(progress).description if progress else "",
        "terminal": detection.is_terminal,
        "outcome": detection.status.outcome.value,
        "wm_key": detection.wm_key,
        "wm_data": detection.wm_data,
        "watermark_found": detection.watermark_found,
        "error_code": detection.error_code,
        "error": detection.failure,
        "dr_reg_date": detection.reg_date,
        "dr_update_date": detection.update_date,
    }


def check(
    job_id: str,
    previous: dict[str, Any],
    *,
    jobs: Jobs,
    client: DetectionApi,
    config: PipelineConfig,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The state machine's Check step. Returns the next `check` state: terminal, timed_out, wait_seconds."""
    moment = now or datetime.now(UTC)
    # Before DoveRunner is asked: a notification from now on wakes the next wait (services/wake.py).
    job = jobs.begin_check(job_id)
    if job["state"] in FINAL_STATES:
        # Ended outside tracking: DoveRunner refused an upload made again. The failure report says why.
        raise JobEnded(f"the job ended {job['state']} while tracked: {job.get('reason') or 'no reason recorded'}")
    # The job counts its checks: the state may carry a notification's wake instead of the last Check's result.
    attempt = int(previous.get("attempt") or job.get("checks") or 0)
    elapsed = seconds_since(job.get("submitted_at") or job["created_at"], moment)
    known = previous.get("detection_id") or job.get("detection_id")
    # With notifications, a known detection's result comes by notification: only the safety net polls.
    wait = config.poll_seconds if known and config.notifications_registered else next_wait(attempt, config)
    result: dict[str, Any] = {
        "attempt": attempt + 1,
        "wait_seconds": wait,
        # The wait is the poll: the Check's task waits for a notification, its time-out the safety net.
        "poll": wait >= config.poll_seconds,
        "terminal": False,
        "timed_out": False,
        "resubmit": False,
        "uploads": uploads_of(job),
        "detection_id": known,
    }
    if elapsed > config.max_tracking_seconds:
        result.update(timed_out=True, reason=f"no terminal status after {config.max_tracking_seconds}s of tracking")
        return result
    stop = _stop_due(job, elapsed)
    if stop is not None:
        # Recorded before DoveRunner is asked, so the report says who stopped it even if this Check fails after.
        job = jobs.update(job_id, {"cancel": stop})
    live_left = _live_seconds_left(job, elapsed)
    if live_left is not None:
        # Look again when the time box ends, not a long wait after.
        _look_again_within(result, math.ceil(live_left) + 1)
    if not result["detection_id"]:
        found = _find(job, client)
        if found is None:
            fields: dict[str, Any] = {"checks": attempt + 1, "last_check_at": now_iso()}
            if elapsed > config.find_upload_seconds:
                outcome, record = _not_found(job, config, moment)
                fields.update(record)
                result.update(outcome)
            elif job.get("upload_confirmed") is False:
                # Look again when the time is up, so an upload that never registered is made again on time.
                _look_again_within(result, math.ceil(config.find_upload_seconds - elapsed) + 1)
            if not result["timed_out"]:
                jobs.update(job_id, fields)
            return result
        result["detection_id"] = found.detection_id
        if config.notifications_registered:  # known now: its result comes by notification
            result.update(wait_seconds=config.poll_seconds, poll=True)
        logger.info("found the upload's detection", extra={"detection_id": found.detection_id})
    if attempt == 0 and job.get("method") in ("url", "live") and result["detection_id"] and not job.get("cancel"):
        # Its id came with the request a moment ago: nothing to ask DoveRunner yet.
        jobs.update(job_id, {"checks": 1, "last_check_at": now_iso()})
        return result
    if _stop_unsent(job):
        _send_stop(job_id, int(result["detection_id"]), job, jobs=jobs, client=client)
        # DoveRunner takes a moment to end it, and sends no notification for a stopped detection.
        _look_again_within(result, config.initial_wait_seconds)
    detection = client.detail(int(result["detection_id"]), service=job["service"])
    fields = {**detection_fields(detection), "checks": attempt + 1, "last_check_at": now_iso()}
    changed = (job.get("detect_status"), job.get("progress_status")) != (
        detection.detect_status,
        detection.detect_progress_status,
    )
    history = None
    if changed:
        history = {
            "at": now_iso(),
            "detect_status": detection.detect_status,
            "progress_status": detection.detect_progress_status,
            "description": detection.status.description,
        }
    jobs.update(job_id, fields, history=history)
    result.update(terminal=detection.is_terminal, detect_status=detection.detect_status)
    return result


def check_and_wait(
    job_id: str,
    token: str,
    *,
    jobs: Jobs,
    client: DetectionApi,
    executions: Executions,
    config: PipelineConfig,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The state machine's Check step, a task that waits for its token: one check, then the task's end.

    The detection ended, timed out or needs its upload made again: the task ends with the check's result. A wait
    other than the poll (growing while the detection is not found, a time box, a stop): it ends too, and the state
    machine waits that long. Else the token is kept on the job and the task waits: a notification ends it at once
    (services/wake.py), its time-out (`poll_seconds` after the task began, plus the function's own time)
    otherwise. A notification that came since the check began ends it at once too (the race is closed on the job
    item, as the waker's docstring says)."""
    result = check(job_id, {}, jobs=jobs, client=client, config=config, now=now)
    if result["terminal"] or result["timed_out"] or result["resubmit"]:
        executions.complete(token, result)
        return {**result, "then": "ended the wait"}
    if not result["poll"]:
        executions.complete(token, {**result, "wait": True})
        return {**result, "then": "a plain wait"}
    if keep_or_wake(job_id, token, int(result["attempt"]), jobs=jobs, executions=executions)["waiting"]:
        return {**result, "then": "waiting for a notification or the poll"}
    return {**result, "then": "woken"}


def _look_again_within(result: dict[str, Any], seconds: int) -> None:
    """A wait cut short for something due (a time box, an upload to make again, a stop taking effect): a plain
    wait of its own length, not the poll, whose time-out comes a function's time later."""
    if seconds <= result["wait_seconds"]:
        result.update(wait_seconds=max(1, seconds), poll=False)


def _stop_due(job: dict[str, Any], elapsed: float) -> dict[str, Any] | None:
    """The stop to record now: a live detection past its time box (an operator's stop is recorded by
    services/cancel.py). None when there is none, or one is recorded already."""
    if job.get("cancel"):
        return None
    left = _live_seconds_left(job, elapsed)
    if left is None or left > 0:
        return None
    limit = int((job.get("request") or {}).get("max_seconds") or 0)
    return {
        "by": TIME_BOX,
        "reason": f"ended at its time box: the live detection was stopped after {limit} s (max_seconds)",
        "requested_at": now_iso(),
    }


def _live_seconds_left(job: dict[str, Any], elapsed: float) -> float | None:
    """Seconds until a live detection's time box ends; None for any other job."""
    limit = (job.get("request") or {}).get("max_seconds")
    if job.get("method") != "live" or not limit:
        return None
    return float(limit) - elapsed


def _stop_unsent(job: dict[str, Any]) -> bool:
    cancel = job.get("cancel")
    return isinstance(cancel, dict) and not cancel.get("stop_sent_at")


def _send_stop(job_id: str, detection_id: int, job: dict[str, Any], *, jobs: Jobs, client: DetectionApi) -> None:
    """DoveRunner's stop API; a detection that ended meanwhile (A4028) needs none."""
    try:
        client.stop(detection_id, service=job["service"])
        answer = "stopped"
    except DoveRunnerApiError as exc:
        if exc.code != "A4028":
            raise
        answer = "already ended (A4028)"
    logger.info("stop requested", extra={"by": job["cancel"].get("by"), "answer": answer})
    jobs.update(job_id, {"cancel": {**job["cancel"], "stop_sent_at": now_iso(), "stop_answer": answer}})


def _not_found(job: dict[str, Any], config: PipelineConfig, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """No detection appeared within `find_upload_seconds`: the Check's outcome, and what to record on the job.

    An upload that DoveRunner confirmed and never registered is reported. One whose answer never came was most
    likely never stored: it is asked to be uploaded again (the submit function uploads once per number of uploads,
    however often it is asked). A request still unanswered is made again only after `find_upload_seconds` doubled
    per request already made, so a slow ingest queue is not filled with repeats, while a request lost in the
    dead-letter queue is still made again."""
    uploads = uploads_of(job)
    within = f"within {config.find_upload_seconds}s"
    if job.get("upload_confirmed") is not False:
        return {
            "timed_out": True,
            "reason": f"the uploaded file's detection did not appear in DoveRunner's list {within}",
        }, {}
    if uploads >= MAX_UPLOADS:
        reason = (
            f"{uploads} uploads failed after their last byte and no detection appeared {within} of any: "
            "DoveRunner's storage is not taking the file"
        )
        return {"timed_out": True, "reason": reason}, {}
    asked = job.get("resubmit_requested_at")
    made = int(job.get("resubmit_requests") or 0) if job.get("resubmit_requested_after") == uploads else 0
    if asked and made and seconds_since(str(asked), now) <= config.find_upload_seconds * 2 ** (made - 1):
        return {}, {}  # asked already: the upload is under way
    logger.warning("no detection appeared for an unconfirmed upload: uploading again", extra={"uploads": uploads})
    record = {"resubmit_requested_at": now_iso(now), "resubmit_requested_after": uploads, "resubmit_requests": made + 1}
    return {"resubmit": True}, record


def _find(job: dict[str, Any], client: DetectionApi) -> Detection | None:
    for detection in client.iter_detections(keyword=job["dr_title"], condition="title", service=job["service"]):
        if detection.title == job["dr_title"]:
            return detection
    return None
