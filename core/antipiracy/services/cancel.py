"""An operator stops a job (`doverunner jobs stop`): who and why end up in its report.

A job DoveRunner has not been sent (held, or not yet claimed) ends CANCELED at once, with its report and result
message. A job on its way or tracked gets the stop recorded and its execution woken: the next Check sends DoveRunner's
stop (services/track.py) and the job ends CANCELED when the detection does.
"""

from __future__ import annotations

from typing import Any

from antipiracy.domain.jobs import FINAL_STATES, JobState, StateConflict, now_iso
from antipiracy.domain.outcomes import JobOutcome
from antipiracy.ports import Jobs, JobWaker, ResultsTopic
from antipiracy.services.report import Reports, publish_result

NOT_SENT = (JobState.RECEIVED, JobState.HELD)
ON_ITS_WAY = (JobState.SUBMITTING, JobState.SUBMITTED, JobState.TRACKING)


class CannotCancel(ValueError):
    """The job has ended already, or has no stop to make."""


def cancel(
    job_id: str,
    *,
    by: str,
    why: str,
    jobs: Jobs,
    reports: Reports,
    results: ResultsTopic | None,
    waker: JobWaker,
) -> dict[str, Any]:
    """Stops the job; what was done (`action`: canceled, stop_requested)."""
    if not by.strip():
        raise CannotCancel("say who stops the job (--by)")
    reason = f"stopped by {by.strip()}" + (f": {why.strip()}" if why.strip() else "")
    record = {"by": by.strip(), "reason": reason, "requested_at": now_iso()}
    job = jobs.require(job_id)
    state = JobState(job["state"])
    if state in NOT_SENT:
        fields = {
            "state": JobState.CANCELED.value,
            "job_outcome": JobOutcome.CANCELED.value,
            "cancel": record,
            "reason": reason,
            "finished_at": now_iso(),
        }
        try:
            # The claim first: a job the submit function takes meanwhile is stopped on its way instead.
            job = jobs.update(job_id, fields, expect=(state,))
        except StateConflict:
            job = jobs.require(job_id)
            state = JobState(job["state"])
        else:
            report = reports.write(job, JobState.CANCELED, reason)
            job = jobs.update(job_id, {"report_key": report["report_key"]})
            publish_result(job, JobState.CANCELED, report, results)
            return {"job_id": job_id, "action": "canceled", "state": JobState.CANCELED.value, "reason": reason}
    if state in FINAL_STATES:
        raise CannotCancel(f"job {job_id} has ended already ({state.value}): there is nothing to stop")
    if isinstance(job.get("cancel"), dict):
        raise CannotCancel(f"job {job_id} is being stopped already: {job['cancel'].get('reason')}")
    try:
        # Conditional on no stop recorded: of two operators stopping it at once, one's who and why stand.
        jobs.update(job_id, {"cancel": record}, expect=ON_ITS_WAY, absent=("cancel",))
    except StateConflict:
        raise CannotCancel(
            f"job {job_id} changed meanwhile, or is being stopped already: see `doverunner jobs show {job_id}`"
        ) from None
    waker.wake(job_id)
    return {
        "job_id": job_id,
        "action": "stop_requested",
        "state": state.value,
        "reason": reason,
        "next": "the next check sends DoveRunner's stop; the job ends CANCELED when the detection does",
    }
