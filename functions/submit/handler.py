"""S3 object-created events from the ingest queue -> one DoveRunner detection per object version (per request of a
request file); tracking's requests to upload a file again, and retries of held jobs, come the same way."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from antipiracy import wiring
from antipiracy.domain.requests import ResubmitRequest, RetryRequest
from antipiracy.events import requests_from_message
from antipiracy.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> list[dict[str, str]]:
    submitter = wiring.submitter()
    results = []
    for request in requests_from_message(record.json_body):
        if isinstance(request, ResubmitRequest):
            results.extend([submitter.resubmit(request).as_dict()])
        elif isinstance(request, RetryRequest):
            results.extend([submitter.retry(request).as_dict()])
        else:
            results.extend(result.as_dict() for result in submitter.submit_all(request))
    logger.info("message processed", extra={"message_id": record.message_id, "results": results})
    return results


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    # A failed record stays in the queue and is retried; after maxReceiveCount it moves to the dead-letter queue.
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
