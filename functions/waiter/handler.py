"""The state machine's wait between two Checks: keeps the task token on the job, so that a DoveRunner
notification ends the wait at once (antipiracy/services/wake.py); otherwise the wait times out and the Check runs."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from antipiracy import wiring
from antipiracy.events import wait_input
from antipiracy.observability import logger, metrics, tracer
from antipiracy.services.wake import keep_or_wake


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The event carries the task token: it is never logged.
    job_id, token, attempt = wait_input(event)
    logger.append_keys(job_id=job_id)
    return keep_or_wake(job_id, token, attempt, jobs=wiring.waiter_jobs(), executions=wiring.waker_executions())
