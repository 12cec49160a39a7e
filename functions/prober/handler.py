"""Every few minutes: resumes paused submissions once DoveRunner would take them again (services/holds.probe)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from antipiracy import wiring
from antipiracy.config import prober_config
from antipiracy.observability import logger, metrics, tracer
from antipiracy.services.holds import probe


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = prober_config()
    result = probe(
        wiring.prober_holds(),
        lambda: wiring.doverunner_client(settings, fresh=True),
        quota_probe_seconds=settings.quota_probe_seconds,
    )
    logger.info("probe", extra={"result": result})
    return result
