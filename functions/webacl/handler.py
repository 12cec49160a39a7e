"""Custom resource: the stack's CloudFront web ACL, created in us-east-1 for a stack in another region (create),
kept (update), deleted (delete); always answers CloudFormation."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from antipiracy import wiring
from antipiracy.adapters.cloudformation import send_response
from antipiracy.observability import logger, tracer
from antipiracy.services.custom_resource import serve
from antipiracy.services.web_acl import LATE, NOT_CREATED, handle

# Left for sending the answer before the function's own timeout.
ANSWER_MARGIN_SECONDS = 10.0


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    manager = wiring.web_acl_manager()
    answer = serve(
        event,
        context.get_remaining_time_in_millis() / 1000 - ANSWER_MARGIN_SECONDS,
        lambda request_type, physical_id, properties: handle(request_type, physical_id, properties, manager),
        send=send_response,
        not_created=NOT_CREATED,
        late=LATE,
    )
    return {"Status": answer.status, "PhysicalResourceId": answer.physical_id}
