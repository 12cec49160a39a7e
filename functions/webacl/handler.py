"""Custom resource: the stack's CloudFront web ACL, created in us-east-1 for a stack in another region (create),
kept (update), deleted (delete); always answers CloudFormation."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools.utilities.data_classes import CloudFormationCustomResourceEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from pipeline.custom_resource import Answer, answer_within, response_body, send_response
from pipeline.observability import logger, tracer
from pipeline.web_acl import WAF_REGION, WebAclFailed, WebAclManager, WebAclSpec

# Left for sending the answer before the function's own timeout.
ANSWER_MARGIN_SECONDS = 10.0


def handle(request_type: str, physical_id: str, properties: dict[str, Any], manager: WebAclManager) -> Answer:
    def failed(reason: str) -> Answer:
        # A failed create has created nothing: its physical id must not name a web ACL the rollback would delete.
        return Answer("FAILED", physical_id if request_type != "Create" else "not-created", reason)

    try:
        if request_type == "Create":
            acl = manager.create(WebAclSpec.from_properties(properties))
        elif request_type == "Update":
            acl = manager.current(physical_id)
        elif request_type == "Delete":
            manager.delete(physical_id)
            return Answer("SUCCESS", physical_id, "deleted")
        else:
            return failed(f"unknown request type {request_type!r}")
    except WebAclFailed as exc:
        return failed(str(exc))
    return Answer("SUCCESS", acl.arn, f"web ACL {acl.name} in {WAF_REGION}", acl.attributes())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    request = CloudFormationCustomResourceEvent(event)
    logger.info(
        "custom resource request",
        extra={"request_type": request.request_type, "physical_id": request.physical_resource_id},
    )
    manager = WebAclManager(boto3.client("wafv2", region_name=WAF_REGION))
    physical_id = request.physical_resource_id or "not-created"
    answer = answer_within(
        context.get_remaining_time_in_millis() / 1000 - ANSWER_MARGIN_SECONDS,
        lambda: handle(request.request_type, physical_id, dict(request.resource_properties), manager),
        lambda reason: Answer("FAILED", physical_id, reason),
        "AWS WAF did not answer in time; check the web ACL in us-east-1 before deploying again",
    )
    logger.info("answering CloudFormation", extra={"status": answer.status, "reason": answer.reason})
    send_response(request.response_url, response_body(event, answer))
    return {"Status": answer.status, "PhysicalResourceId": answer.physical_id}
