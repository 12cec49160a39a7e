"""Custom resource: registers the revocation topic with DoveRunner (create), updates (update) or deletes (delete)
the registration, and always answers CloudFormation."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import CloudFormationCustomResourceEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from pipeline import custom_resource, registration, runtime
from pipeline.observability import logger, tracer

# Left for sending the answer before the function's own timeout.
ANSWER_MARGIN_SECONDS = 15.0


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    request = CloudFormationCustomResourceEvent(event)
    # The properties are not logged: nothing secret is in them, but nothing there needs logging either.
    logger.info(
        "custom resource request",
        extra={"request_type": request.request_type, "physical_id": request.physical_resource_id},
    )
    budget = context.get_remaining_time_in_millis() / 1000 - ANSWER_MARGIN_SECONDS
    outcome = registration.answer_within(
        budget,
        request.request_type,
        request.physical_resource_id,
        lambda: runtime.registrar().handle(
            request.request_type, request.physical_resource_id, request.resource_properties
        ),
    )
    logger.info(
        "answering CloudFormation",
        extra={"status": outcome.status, "physical_id": outcome.physical_id, "reason": outcome.reason},
    )
    custom_resource.send_response(request.response_url, registration.response_body(event, outcome))
    return {"Status": outcome.status, "PhysicalResourceId": outcome.physical_id}
