"""The state machine's Check step: one look at a job's detection, then the end of the step's wait, or its token
kept for a notification (services/track.check_and_wait)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from antipiracy import wiring
from antipiracy.config import config
from antipiracy.events import check_input
from antipiracy.observability import logger, metrics, tracer
from antipiracy.services.track import check_and_wait


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The event carries the task token: it is never logged.
    job_id, token = check_input(event)
    logger.append_keys(job_id=job_id)
    return check_and_wait(
        job_id,
        token,
        jobs=wiring.jobs(),
        client=wiring.doverunner_client(),
        executions=wiring.waker_executions(),
        config=config(),
    )
