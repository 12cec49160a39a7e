"""On a schedule: lifts the blocks whose time is up, and reports how full the web ACL is."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from antipiracy import environment as names
from antipiracy import wiring
from antipiracy.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    lifted = wiring.revoker().lift_expired()
    capacity = wiring.blocker().capacity()
    # The capacity alarm watches this metric, so operators hear before blocks are refused.
    metrics.add_metric(
        name=names.METRIC_WEB_ACL_CAPACITY_USED, unit="Percent", value=round(100 * capacity.used_fraction, 1)
    )
    logger.info("expired blocks lifted", extra={"lifted": len(lifted), "wcu_used": capacity.used_wcu})
    return {"lifted": lifted, "wcu_used": capacity.used_wcu, "wcu_limit": capacity.limit}
