"""Custom resource: registers the revocation topic with DoveRunner (create), updates (update) or deletes (delete)
the registration, and always answers CloudFormation."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from antipiracy import wiring
from antipiracy.adapters.cloudformation import send_response
from antipiracy.observability import logger, tracer
from antipiracy.services.custom_resource import serve
from antipiracy.services.register import NOT_REGISTERED, late_answer

# Left for sending the answer before the function's own timeout.
ANSWER_MARGIN_SECONDS = 15.0


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    budget = context.get_remaining_time_in_millis() / 1000 - ANSWER_MARGIN_SECONDS
    answer = serve(
        event,
        budget,
        lambda request_type, physical_id, properties: wiring.registrar().handle(request_type, physical_id, properties),
        send=send_response,
        not_created=NOT_REGISTERED,
        late=late_answer(budget),
    )
    return {"Status": answer.status, "PhysicalResourceId": answer.physical_id}
