"""DoveRunner's status notifications from the revocation queue -> verified sessions blocked at the CDN.

A batch is acted on as one (Revoker.handle_batch): its notifications checked concurrently, its tokens blocked with
one web ACL read and write. Powertools' batch processor then reports each record's own outcome, so a record that
failed alone is delivered again and the others are not."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSEvent, SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from antipiracy import environment as names
from antipiracy import wiring
from antipiracy.domain.notifications import InvalidNotification, StatusNotification, parse_message
from antipiracy.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS)


def dead_letter(record: SQSRecord, reason: str) -> dict[str, Any]:
    # Retrying cannot make it valid: straight to the dead-letter queue, with the reason beside it.
    wiring.dead_letters().send(record.body, reason)
    metrics.add_metric(name=names.METRIC_INVALID_NOTIFICATIONS, unit="Count", value=1)
    logger.error("invalid notification sent to the dead-letter queue", extra={"reason": reason})
    return {"action": "dead_lettered", "reason": reason}


def handle_all(records: list[SQSRecord]) -> dict[str, dict[str, Any] | Exception]:
    """Each record's outcome by message id: what was done, or the exception that failed it."""
    outcomes: dict[str, dict[str, Any] | Exception] = {}
    valid: list[tuple[SQSRecord, StatusNotification]] = []
    for record in records:
        try:
            valid.append((record, parse_message(record.body)))
        except InvalidNotification as exc:
            try:
                outcomes[record.message_id] = dead_letter(record, str(exc))
            except Exception as failed:  # the dead-letter queue unreachable: delivered again
                outcomes[record.message_id] = failed
    if valid:
        results = wiring.revoker().handle_batch([(note, record.body) for record, note in valid])
        for (record, _), result in zip(valid, results, strict=True):
            if isinstance(result, Exception):
                outcomes[record.message_id] = result
                continue
            outcomes[record.message_id] = result.as_dict()
            logger.info("notification handled", extra={"message_id": record.message_id, "result": result.as_dict()})
    return outcomes


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    outcomes = handle_all(list(SQSEvent(event).records))

    def record_handler(record: SQSRecord) -> dict[str, Any]:
        outcome = outcomes[record.message_id]
        if isinstance(outcome, Exception):
            raise outcome  # DoveRunner or WAF unreachable: retried, then dead-lettered by the queue
        return outcome

    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
