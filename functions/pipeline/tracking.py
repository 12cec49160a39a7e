"""One check of a tracked job: find its detection, read its status, record it, say when to look again."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from doverunner import Detection, DoveRunnerClient, describe_status
from pipeline.config import PipelineConfig
from pipeline.jobs import JobStore, now_iso
from pipeline.observability import logger


def next_wait(attempt: int, config: PipelineConfig) -> int:
    """Waits grow from the initial wait by `wait_growth` per check, up to the cap."""
    return int(min(config.max_wait_seconds, config.initial_wait_seconds * config.wait_growth**attempt))


def _seconds_since(stamp: str, now: datetime) -> float:
    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return (now - moment).total_seconds()


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
    jobs: JobStore,
    client: DoveRunnerClient,
    config: PipelineConfig,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The state machine's Check step. Returns the next `check` state: terminal, timed_out, wait_seconds."""
    moment = now or datetime.now(UTC)
    # Before DoveRunner is asked: a notification from now on wakes the next wait (pipeline/waking.py).
    job = jobs.begin_check(job_id)
    attempt = int(previous.get("attempt") or 0)
    elapsed = _seconds_since(job.get("submitted_at") or job["created_at"], moment)
    result: dict[str, Any] = {
        "attempt": attempt + 1,
        "wait_seconds": next_wait(attempt, config),
        "terminal": False,
        "timed_out": False,
        "detection_id": previous.get("detection_id") or job.get("detection_id"),
    }
    if elapsed > config.max_tracking_seconds:
        result.update(timed_out=True, reason=f"no terminal status after {config.max_tracking_seconds}s of tracking")
        return result
    if not result["detection_id"]:
        found = _find(job, client)
        if found is None:
            if elapsed > config.find_upload_seconds:
                reason = (
                    "the uploaded file's detection did not appear in DoveRunner's list "
                    f"within {config.find_upload_seconds}s"
                )
                result.update(timed_out=True, reason=reason)
            else:
                jobs.update(job_id, {"checks": attempt + 1, "last_check_at": now_iso()})
            return result
        result["detection_id"] = found.detection_id
        logger.info("found the upload's detection", extra={"detection_id": found.detection_id})
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


def _find(job: dict[str, Any], client: DoveRunnerClient) -> Detection | None:
    for detection in client.iter_detections(keyword=job["dr_title"], condition="title", service=job["service"]):
        if detection.title == job["dr_title"]:
            return detection
    return None
