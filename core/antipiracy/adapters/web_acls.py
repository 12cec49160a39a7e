"""The stack's CloudFront web ACL when the stack is not in us-east-1.

CloudFront-scope web ACLs exist only in us-east-1, and CloudFormation creates one only from a stack there. A stack
elsewhere gets its web ACL from this custom resource instead: created in us-east-1 on Create (a retried Create adopts
the web ACL of the same name), kept on Update, deleted on Delete. The physical id is the web ACL's ARN.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from antipiracy.adapters.aws_errors import error_code
from antipiracy.domain.web_acls import SCOPE, WAF_REGION, WebAcl, WebAclFailed, WebAclSpec, parse_arn

DELETE_ATTEMPTS = 6


class WebAclManager:
    """`wafv2`: a client for us-east-1, whatever region the stack is in."""

    def __init__(self, wafv2: Any, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._waf = wafv2
        self._sleep = sleep

    def find(self, name: str) -> WebAcl | None:
        marker: str | None = None
        while True:
            page = self._waf.list_web_acls(Scope=SCOPE, Limit=100, **({"NextMarker": marker} if marker else {}))
            for summary in page.get("WebACLs", []):
                if summary["Name"] == name:
                    return WebAcl(summary["Name"], summary["Id"], summary["ARN"])
            marker = page.get("NextMarker")
            if not marker or not page.get("WebACLs"):
                return None

    def create(self, spec: WebAclSpec) -> WebAcl:
        existing = self.find(spec.name)
        if existing is not None:
            return existing
        request: dict[str, Any] = {
            "Name": spec.name,
            "Scope": SCOPE,
            "DefaultAction": {"Allow": {}},
            "VisibilityConfig": {
                "SampledRequestsEnabled": True,
                "CloudWatchMetricsEnabled": True,
                "MetricName": spec.metric_name,
            },
            "Rules": [],
        }
        if spec.description:
            request["Description"] = spec.description
        try:
            summary = self._waf.create_web_acl(**request)["Summary"]
        except ClientError as exc:
            if error_code(exc) == "WAFDuplicateItemException" and (found := self.find(spec.name)) is not None:
                return found
            raise WebAclFailed(f"creating the web ACL {spec.name} in {WAF_REGION} failed: {error_code(exc)}") from None
        return WebAcl(summary["Name"], summary["Id"], summary["ARN"])

    def current(self, arn: str) -> WebAcl:
        acl = parse_arn(arn)
        try:
            self._waf.get_web_acl(Name=acl.name, Id=acl.id, Scope=SCOPE)
        except ClientError as exc:
            raise WebAclFailed(f"the web ACL {acl.name} cannot be read: {error_code(exc)}") from None
        return acl

    def delete(self, arn: str) -> None:
        """Deletes the web ACL; one already gone is a success. Lock conflicts (the revoker writing) are retried."""
        try:
            acl = parse_arn(arn)
        except WebAclFailed:
            return  # a Create that failed before creating anything
        for attempt in range(1, DELETE_ATTEMPTS + 1):
            try:
                lock = self._waf.get_web_acl(Name=acl.name, Id=acl.id, Scope=SCOPE)["LockToken"]
                self._waf.delete_web_acl(Name=acl.name, Id=acl.id, Scope=SCOPE, LockToken=lock)
                return
            except ClientError as exc:
                code = error_code(exc)
                if code == "WAFNonexistentItemException":
                    return
                if code == "WAFAssociatedItemException":
                    raise WebAclFailed(
                        f"the web ACL {acl.name} is still associated with a CloudFront distribution: remove it "
                        "from the distribution, then delete the stack again"
                    ) from None
                if code != "WAFOptimisticLockException" or attempt == DELETE_ATTEMPTS:
                    raise WebAclFailed(f"deleting the web ACL {acl.name} failed: {code}") from None
            self._sleep(random.uniform(0, min(5.0, 0.2 * 2**attempt)))
