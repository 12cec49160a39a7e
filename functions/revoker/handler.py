"""DoveRunner's status notifications from the revocation queue -> verified sessions blocked at the CDN."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from antipiracy import environment as names
from antipiracy import wiring
from antipiracy.domain.notifications import InvalidNotification, parse_message
from antipiracy.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> dict[str, Any]:
    try:
        note = parse_message(record.body)
    except InvalidNotification as exc:
        # Retrying cannot make it valid: straight to the dead-letter queue, with the reason beside it.
        wiring.dead_letters().send(record.body, str(exc))
        metrics.add_metric(name=names.METRIC_INVALID_NOTIFICATIONS, unit="Count", value=1)
        logger.error("invalid notification sent to the dead-letter queue", extra={"reason": str(exc)})
        return {"action": "dead_lettered", "reason": str(exc)}
    result = wiring.revoker().handle(note, record.body).as_dict()
    logger.info("notification handled", extra={"message_id": record.message_id, "result": result})
    return result


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    # A record that fails (DoveRunner or WAF unreachable) is retried, then dead-lettered by the queue.
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
