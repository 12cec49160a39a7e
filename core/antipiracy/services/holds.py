"""Held jobs and paused submissions (domain/holds.py): pausing when DoveRunner refuses the site's quota or
credentials, resuming when the operator says so or the periodic probe finds DoveRunner taking requests again.

Resuming puts one retry request per held job on the ingest queue; the submit function claims each job with a
conditional write (HELD -> RECEIVED -> SUBMITTING), so a job is sent once however often it is asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from antipiracy.domain.holds import HoldKind
from antipiracy.domain.jobs import JobState, now_iso, seconds_since
from antipiracy.environment import METRIC_SUBMISSIONS_PAUSED
from antipiracy.observability import logger, metrics
from antipiracy.ports import DetectionApi, Jobs, OperatorAlerts, RetryRequests


class NotRetryable(ValueError):
    """The job is neither held nor refused by DoveRunner: there is nothing to send again."""


def retryable(job: dict[str, Any]) -> bool:
    """A held job, or one DoveRunner refused (it has no detection): sending it again cannot make a second one."""
    state = job.get("state")
    refused = state == JobState.FAILED.value and job.get("refused_by_doverunner") and not job.get("detection_id")
    return state == JobState.HELD.value or bool(refused)


@dataclass(frozen=True)
class Resumed:
    paused: dict[str, Any] | None  # the pause lifted (None: submissions were not paused)
    requeued: list[str]  # the held jobs asked for again

    def as_dict(self) -> dict[str, Any]:
        return {"pause_lifted": self.paused, "requeued": len(self.requeued), "job_ids": self.requeued}


class Holds:
    def __init__(
        self, jobs: Jobs, *, retries: RetryRequests | None = None, alerts: OperatorAlerts | None = None
    ) -> None:
        self._jobs = jobs
        self._retries = retries
        self._alerts = alerts

    def current(self) -> dict[str, Any] | None:
        """The pause in force, if any."""
        return self._jobs.submission_pause()

    def pause(self, kind: HoldKind, code: str, reason: str, job_id: str) -> bool:
        """Pauses submissions (once: a pause in force is kept as it is); whether this call paused them. The operator
        is told at once, not only by the alarm."""
        record = {"kind": kind.value, "code": code, "reason": reason, "since": now_iso(), "first_job_id": job_id}
        if not self._jobs.pause_submissions(record):
            return False
        metrics.add_metric(name=METRIC_SUBMISSIONS_PAUSED, unit="Count", value=1)
        logger.error("submissions paused", extra={"kind": kind.value, "error_code": code})
        if self._alerts is not None:
            self._alerts.alert(
                f"DoveRunner submissions paused ({kind.value}: {code or 'no code'})",
                f"{reason}\n\nEvery new job is held until submissions resume: after fixing the cause, run "
                "`doverunner jobs retry --held`; the periodic probe also resumes them once DoveRunner takes requests "
                "again (docs/pipeline.md#held-jobs).",
            )
        return True

    def resume(self, by: str) -> Resumed:
        """Lifts the pause and asks for every held job again."""
        lifted = self._jobs.resume_submissions()
        requeued = self._requeue_held(by)
        logger.info("submissions resumed", extra={"by": by, "requeued": len(requeued), "was_paused": bool(lifted)})
        return Resumed(lifted, requeued)

    def held_without_pause(self, by: str = "probe (held without a pause)") -> int:
        """Asks again for held jobs while no pause is in force; how many. A pause set meanwhile holds them again."""
        held = self._requeue_held(by)
        if held:
            logger.warning("held jobs found with no pause in force: asked for again", extra={"count": len(held)})
        return len(held)

    def retry(self, job_id: str, by: str) -> dict[str, Any]:
        """Asks for one held or refused job again; NotRetryable for any other."""
        job = self._jobs.require(job_id)
        if not retryable(job):
            raise NotRetryable(
                f"job {job_id} is {job.get('state')}: only a held job, or one DoveRunner refused, is sent again"
            )
        self._require_retries().request_retry(job_id, by)
        return {"job_id": job_id, "state": job["state"], "requeued": True}

    def _requeue_held(self, by: str) -> list[str]:
        """One retry request per held job; their ids."""
        held = [job["job_id"] for job in self._jobs.with_state(JobState.HELD)]
        for job_id in held:
            self._require_retries().request_retry(job_id, by)
        return held

    def _require_retries(self) -> RetryRequests:
        if self._retries is None:
            raise RuntimeError("no ingest queue to send retry requests to")
        return self._retries


def probe(
    holds: Holds,
    client_factory: Callable[[], DetectionApi],
    *,
    quota_probe_seconds: int,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The periodic probe: resumes paused submissions once DoveRunner would take them.

    Credentials: one list call with the secret read afresh (no quota spent) tells whether they work now. Quota:
    no call tells how much is left without spending it, so once `quota_probe_seconds` passed since the pause, the
    probe resumes; the first held job sent is the test, and if DoveRunner still refuses it, submissions pause again
    with the rest held: at most one refused request per period."""
    pause = holds.current()
    if pause is None:
        # A job held just as the pause was lifted can be missed by that resume (the state index lags its writes):
        # with no pause in force, a held job is asked for again here.
        left = holds.held_without_pause()
        return {"paused": False, **({"requeued_left_behind": left} if left else {})}
    kind = HoldKind(str(pause.get("kind")))
    if kind is HoldKind.QUOTA:
        waited = seconds_since(str(pause["since"]), now or datetime.now(UTC))
        if waited < quota_probe_seconds:
            return {"paused": True, "kind": kind.value, "resumed": False, "next_probe_in": quota_probe_seconds - waited}
        return {"paused": True, "kind": kind.value, "resumed": True, **holds.resume("probe (quota)").as_dict()}
    try:
        client_factory().list_detections()
    except Exception as exc:  # any failure means: not yet
        logger.warning("probe: DoveRunner still refuses the credentials", extra={"error": str(exc)[:300]})
        return {"paused": True, "kind": kind.value, "resumed": False, "error": str(exc)[:300]}
    return {"paused": True, "kind": kind.value, "resumed": True, **holds.resume("probe (credentials)").as_dict()}
