"""The state machine's Check step: one look at a job's detection."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from antipiracy import wiring
from antipiracy.config import config
from antipiracy.events import step_input
from antipiracy.observability import logger, metrics, tracer
from antipiracy.services.track import check


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    job_id, previous = step_input(event, "Check")
    logger.append_keys(job_id=job_id)
    return check(job_id, previous, jobs=wiring.jobs(), client=wiring.doverunner_client(), config=config())
