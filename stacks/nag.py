"""cdk-nag findings acknowledged in code, each with its reason (cdk-nag 3 runs as a validation plugin).

A finding with evidence (IAM4, IAM5) is acknowledged only with that evidence, e.g.
`AwsSolutions::AwsSolutions-IAM5[Resource::<BucketArn>/inbox/*]`: so a new wildcard is never waved through.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule: str, reason: str, evidence: tuple[str, ...] = ()) -> None:
    """Acknowledges `AwsSolutions-<rule>` (for each piece of `evidence`) for `scope` and all inside it."""
    ids = [f"AwsSolutions::AwsSolutions-{rule}[{item}]" for item in evidence] or [f"AwsSolutions-{rule}"]
    for finding in ids:
        cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=finding, reason=reason))


def resource_evidence(scope: IConstruct, *arns: str) -> tuple[str, ...]:
    """cdk-nag's evidence strings (`Resource::...`) for resource ARNs that are CDK tokens."""
    stack = cdk.Stack.of(scope)
    return tuple(f"Resource::{_render(stack.resolve(arn))}" for arn in arns)


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return f"<{logical_id}.{attribute}>"
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_render(part) for part in parts)
    raise ValueError(f"cannot render {value!r} as cdk-nag evidence")


def acknowledge_scan(scope: IConstruct, check: str, reason: str, *, resource_type: str) -> None:
    """Acknowledges checkov's `check` (`make scan`, docs/scan.md) for every `resource_type` resource in `scope`, as
    checkov reads it: the resource's `Metadata.checkov.skip`, with the reason as its comment."""
    for child in scope.node.find_all():
        if isinstance(child, cdk.CfnResource) and child.cfn_resource_type == resource_type:
            metadata = child.get_metadata("checkov") or {"skip": []}
            metadata["skip"] = [*metadata["skip"], {"id": check, "comment": reason}]
            child.add_metadata("checkov", metadata)
