"""The stack's CloudFront web ACL as values: what to create, what exists, and its ARN read back."""

from __future__ import annotations

from dataclasses import dataclass

SCOPE = "CLOUDFRONT"
WAF_REGION = "us-east-1"


class WebAclFailed(Exception):
    """A failure whose message is the reason CloudFormation shows the operator."""


@dataclass(frozen=True)
class WebAclSpec:
    name: str
    description: str
    metric_name: str


@dataclass(frozen=True)
class WebAcl:
    name: str
    id: str
    arn: str

    def attributes(self) -> dict[str, str]:
        return {"Arn": self.arn, "Id": self.id, "Name": self.name}


def parse_arn(arn: str) -> WebAcl:
    """The name and id in a CloudFront web ACL's ARN: arn:aws:wafv2:us-east-1:<account>:global/webacl/<name>/<id>."""
    parts = arn.split(":")
    resource = parts[5].split("/") if len(parts) == 6 else []
    if len(resource) != 4 or resource[:2] != ["global", "webacl"] or parts[3] != WAF_REGION:
        raise WebAclFailed(f"not a CloudFront web ACL ARN: {arn!r}")
    return WebAcl(resource[2], resource[3], arn)
