"""The stack deployed outside us-east-1: its CloudFront web ACL is created in us-east-1 by a custom resource, and a
pirated video's session is blocked there."""

from __future__ import annotations

from deployed_stack import drop, report_with_revocation, unique_key, video, web_acl

from antipiracy.domain.waf_rules import url_safe
from doverunner_local.stack import LocalPipelineStack
from doverunner_local.waf_evaluator import matches


def test_the_web_acl_of_a_stack_in_another_region_is_created_in_us_east_1(
    local_in_eu_west_1: LocalPipelineStack,
) -> None:
    local = local_in_eu_west_1
    arn = local.outputs["WebAclArn"]

    assert arn.startswith("arn:aws:wafv2:us-east-1:")
    assert ":global/webacl/DoveRunnerDetection-session-blocks/" in arn
    assert web_acl(local)["DefaultAction"] == {"Allow": {}}
    assert local.outputs["RevocationTopicArn"].startswith(f"arn:aws:sns:{local.region}:")
    assert local.region == "eu-west-1"


def test_a_pirated_video_gets_its_session_blocked_in_that_web_acl(local_in_eu_west_1: LocalPipelineStack) -> None:
    local = local_in_eu_west_1
    assert local.doverunner is not None
    session = local.doverunner.emulator.add_session("00000000000000e7", "session_id=sess-eu")
    key = unique_key("eu.mp4")
    drop(local, key, video(mark="00000000000000e7"))

    revocation = report_with_revocation(local, key)["revocation"]

    token = url_safe(session.revoke_token)
    assert (revocation["token"], revocation["state"]) == (token, "BLOCKED")
    assert matches(web_acl(local)["Rules"], {}, f"/drm/{token}.ZGF0YQ/segment-1.m4s")
