"""Answering CloudFormation from a custom resource's function: within the function's time, always, naming no secret.

Powertools has the event's data class (CloudFormationCustomResourceEvent) but nothing that answers; the answer is a
PUT of a small JSON document to the event's presigned ResponseURL.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import requests

log = logging.getLogger("pipeline.custom_resource")

MAX_REASON_CHARS = 1500  # CloudFormation takes a response of at most 4 KB

Status = Literal["SUCCESS", "FAILED"]
T = TypeVar("T")


class ResponseNotDelivered(Exception):
    """CloudFormation's response URL did not take the answer (the message never names the URL: it is signed)."""


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
            log.exception("the custom resource's work failed")
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


def send_response(
    url: str,
    body: Mapping[str, Any],
    *,
    put: Callable[..., requests.Response] = requests.put,
    attempts: int = 3,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """PUTs the answer to the presigned URL; a passing failure is tried again, a refusal is not."""
    data = json.dumps(body).encode()
    problem = ""
    for attempt in range(1, attempts + 1):
        try:
            # A presigned S3 PUT: the signature covers an empty content type.
            response = put(url, data=data, headers={"Content-Type": ""}, timeout=(5, 20))
        except requests.RequestException as exc:
            problem = type(exc).__name__  # its message would contain the signed URL
        else:
            if response.ok:
                return
            problem = f"HTTP {response.status_code}"
            if response.status_code < 500:
                break
        if attempt < attempts:
            sleep(2.0**attempt)
    raise ResponseNotDelivered(f"CloudFormation's response URL did not take the answer: {problem}")
