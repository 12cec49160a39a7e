"""The custom resource that gives a stack outside us-east-1 its CloudFront web ACL (its calls: adapters/web_acls.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from antipiracy.domain.web_acls import WAF_REGION, WebAclFailed, WebAclSpec
from antipiracy.ports import WebAcls
from antipiracy.services.custom_resource import Answer, failed, required_properties

# Physical id of a create that made nothing: deleting it (a rollback) touches no web ACL.
NOT_CREATED = "not-created"
LATE = "AWS WAF did not answer in time; check the web ACL in us-east-1 before deploying again"


def spec_from_properties(properties: Mapping[str, Any]) -> WebAclSpec:
    values = required_properties(properties, ("Name", "MetricName"), WebAclFailed, optional=("Description",))
    return WebAclSpec(values["Name"], values["Description"], values["MetricName"])


def handle(request_type: str, physical_id: str, properties: Mapping[str, Any], manager: WebAcls) -> Answer:
    """Create makes (or adopts) the web ACL, Update keeps it, Delete deletes it; never raises a WebAclFailed."""
    try:
        if request_type == "Create":
            acl = manager.create(spec_from_properties(properties))
        elif request_type == "Update":
            acl = manager.current(physical_id)
        elif request_type == "Delete":
            manager.delete(physical_id)  # NOT_CREATED names no web ACL: nothing is deleted
            return Answer("SUCCESS", physical_id, "deleted")
        else:
            return failed(request_type, physical_id, f"unknown request type {request_type!r}", not_created=NOT_CREATED)
    except WebAclFailed as exc:
        return failed(request_type, physical_id, str(exc), not_created=NOT_CREATED)
    return Answer("SUCCESS", acl.arn, f"web ACL {acl.name} in {WAF_REGION}", acl.attributes())
