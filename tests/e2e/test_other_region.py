"""The stack deployed outside us-east-1: its CloudFront web ACL is created in us-east-1 by a custom resource, and a
pirated video's session is blocked there."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from antipiracy.adapters.web_acls import parse_arn
from antipiracy.domain.waf_rules import url_safe
from doverunner_local.samples import write_sample
from doverunner_local.stack import LocalPipelineStack
from doverunner_local.waf_evaluator import matches

REGION = "eu-west-1"


@pytest.fixture(scope="module")
def local() -> Iterator[LocalPipelineStack]:
    with LocalPipelineStack(step_seconds=0.1, region=REGION) as stack:
        yield stack


def web_acl(local: LocalPipelineStack) -> dict[str, Any]:
    acl = parse_arn(local.outputs["WebAclArn"])
    return dict(local.waf_client().get_web_acl(Name=acl.name, Id=acl.id, Scope="CLOUDFRONT")["WebACL"])


def revocation_in_report(local: LocalPipelineStack, key: str, timeout: float = 60.0) -> dict[str, Any]:
    s3 = local.client("s3")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            body = s3.get_object(Bucket=local.outputs["InboxBucketName"], Key=f"results/{key}.json")["Body"].read()
        except ClientError:
            body = b"{}"
        if revocation := json.loads(body).get("revocation"):
            return dict(revocation)
        time.sleep(0.2)
    raise AssertionError(f"the report of {key} never named a revocation")


def test_the_web_acl_of_a_stack_in_another_region_is_created_in_us_east_1(local: LocalPipelineStack) -> None:
    arn = local.outputs["WebAclArn"]

    assert arn.startswith("arn:aws:wafv2:us-east-1:")
    assert ":global/webacl/DoveRunnerDetection-session-blocks/" in arn
    assert web_acl(local)["DefaultAction"] == {"Allow": {}}
    assert local.outputs["RevocationTopicArn"].startswith(f"arn:aws:sns:{REGION}:")


def test_a_pirated_video_gets_its_session_blocked_in_that_web_acl(local: LocalPipelineStack) -> None:
    assert local.doverunner is not None
    session = local.doverunner.emulator.add_session("00000000000000e7", "session_id=sess-eu")
    video = io.BytesIO()
    write_sample(video, "mp4", 256 * 1024, mark="00000000000000e7")
    local.client("s3").put_object(Bucket=local.outputs["InboxBucketName"], Key="inbox/eu.mp4", Body=video.getvalue())

    revocation = revocation_in_report(local, "inbox/eu.mp4")

    token = url_safe(session.revoke_token)
    assert (revocation["token"], revocation["state"]) == (token, "BLOCKED")
    assert matches(web_acl(local)["Rules"], {}, f"/drm/{token}.ZGF0YQ/segment-1.m4s")
