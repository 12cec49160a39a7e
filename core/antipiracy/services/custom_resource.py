"""Serving a CloudFormation custom resource from a function: within the function's time, always, naming no secret.

Powertools has the event's data class (CloudFormationCustomResourceEvent) but nothing that answers; the answer is a
PUT of a small JSON document to the event's presigned ResponseURL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from aws_lambda_powertools.utilities.data_classes import CloudFormationCustomResourceEvent

from antipiracy.observability import logger

MAX_REASON_CHARS = 1500  # CloudFormation takes a response of at most 4 KB

Status = Literal["SUCCESS", "FAILED"]
T = TypeVar("T")


@dataclass(frozen=True)
class Answer:
    status: Status
    physical_id: str
    reason: str = ""
    data: Mapping[str, str] = field(default_factory=dict)


def answer_within(seconds: float, work: Callable[[], T], failure: Callable[[str], T], late: str) -> T:
    """`work`'s answer; `failure(reason)` if it raises, or `failure(late)` if it takes longer than `seconds`: the
    answer must be sent before the function times out, or CloudFormation waits for the resource's whole timeout."""
    answers: list[T] = []

    def run() -> None:
        try:
            answers.append(work())
        except Exception as exc:
            logger.exception("the custom resource's work failed")
            answers.append(failure(f"unexpected {type(exc).__name__}; the function's log has the details"))

    worker = threading.Thread(target=run, name="custom-resource", daemon=True)
    worker.start()
    worker.join(max(seconds, 0.0))
    return answers[0] if answers else failure(late)


def response_body(event: Mapping[str, Any], answer: Answer) -> dict[str, Any]:
    """The document CloudFormation expects at the event's ResponseURL."""
    reason = answer.reason or ("done" if answer.status == "SUCCESS" else "failed")
    return {
        "Status": answer.status,
        "Reason": reason[:MAX_REASON_CHARS],
        "PhysicalResourceId": answer.physical_id,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": dict(answer.data),
    }


def failed(request_type: str, physical_id: str, reason: str, *, not_created: str) -> Answer:
    """A failure keeps the resource's physical id; a failed create made nothing, so it gets `not_created`, which a
    rollback's delete recognises as nothing to delete."""
    return Answer("FAILED", physical_id if request_type != "Create" and physical_id else not_created, reason)


def required_properties(
    properties: Mapping[str, Any], names: tuple[str, ...], error: type[Exception], optional: tuple[str, ...] = ()
) -> dict[str, str]:
    """The named properties as text; `error` naming every required one that is missing or empty."""
    values = {name: str(properties.get(name) or "") for name in (*names, *optional)}
    missing = [name for name in names if not values[name]]
    if missing:
        raise error(f"the custom resource has no {', '.join(missing)}")
    return values


def serve(
    event: dict[str, Any],
    seconds: float,
    handle: Callable[[str, str, Mapping[str, Any]], Answer],
    *,
    not_created: str,
    late: str,
    send: Callable[[str, Mapping[str, Any]], None],
) -> Answer:
    """Handles a custom resource request and answers CloudFormation (`send`: the answer to the event's response
    URL, adapters/cloudformation.py), whatever happens, within `seconds`."""
    request = CloudFormationCustomResourceEvent(event)
    request_type, physical_id = request.request_type, request.physical_resource_id or ""
    # The properties are not logged: nothing secret is in them, but nothing there needs logging either.
    logger.info("custom resource request", extra={"request_type": request_type, "physical_id": physical_id})
    answer = answer_within(
        seconds,
        lambda: handle(request_type, physical_id, dict(request.resource_properties)),
        lambda reason: failed(request_type, physical_id, reason, not_created=not_created),
        late,
    )
    logger.info(
        "answering CloudFormation",
        extra={"status": answer.status, "physical_id": answer.physical_id, "reason": answer.reason},
    )
    send(request.response_url, response_body(event, answer))
    return answer
