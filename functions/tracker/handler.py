"""The state machine's Check step: one look at a job's detection."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pipeline import runtime
from pipeline.config import config
from pipeline.observability import logger, metrics, tracer
from pipeline.tracking import check


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    job_id = event.get("job_id")
    if not isinstance(job_id, str) or not job_id:
        raise ValueError("the Check step needs a job_id")
    logger.append_keys(job_id=job_id)
    previous = event.get("check") if isinstance(event.get("check"), dict) else {}
    return check(job_id, previous or {}, jobs=runtime.jobs(), client=runtime.doverunner_client(), config=config())
