"""The state machine's Check step: one look at a job's detection."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pipeline import runtime
from pipeline.config import config
from pipeline.jobs import step_input
from pipeline.observability import logger, metrics, tracer
from pipeline.tracking import check


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    job_id, previous = step_input(event, "Check")
    logger.append_keys(job_id=job_id)
    return check(job_id, previous, jobs=runtime.jobs(), client=runtime.doverunner_client(), config=config())
