"""CloudFront web ACLs for tests, in whichever WAF a client reaches (the moto server, moto in-process, a local AWS)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from antipiracy.domain.waf_rules import WafTarget


def visibility(name: str, *, enabled: bool = False) -> dict[str, Any]:
    return {"SampledRequestsEnabled": enabled, "CloudWatchMetricsEnabled": enabled, "MetricName": name}


@dataclass(frozen=True)
class WebAcl:
    name: str
    id: str
    arn: str
    lock_token: str

    @property
    def target(self) -> WafTarget:
        """What the blocking engine is pointed at."""
        return WafTarget(web_acl_name=self.name, web_acl_id=self.id)


def create_web_acl(
    wafv2: Any,
    name: str,
    *,
    rules: Sequence[dict[str, Any]] = (),
    description: str | None = None,
    metrics: bool = False,
) -> WebAcl:
    """A CloudFront web ACL that allows by default, with `rules` (none: an empty one, as the stack creates it);
    `metrics` turns on its sampled requests and CloudWatch metrics."""
    extra = {"Description": description} if description is not None else {}
    summary = wafv2.create_web_acl(
        Name=name,
        Scope="CLOUDFRONT",
        DefaultAction={"Allow": {}},
        VisibilityConfig=visibility(name, enabled=metrics),
        Rules=list(rules),
        **extra,
    )["Summary"]
    return WebAcl(summary["Name"], summary["Id"], summary["ARN"], summary["LockToken"])
