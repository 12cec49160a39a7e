"""End to end on the local deployment: a pirated video's session blocked at the CDN by DoveRunner's notification,
named in the report, and lifted again by the operator."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from deployed_stack import drop, report_with_revocation, unique_key, user_environment, video, web_acl

from antipiracy.domain.waf_rules import read_rule, url_safe
from doverunner_local.engine import revoke_token_for
from doverunner_local.stack import LocalPipelineStack
from doverunner_local.waf_evaluator import matches


def operator(local: LocalPipelineStack, *args: str) -> Any:
    """`doverunner revocations ...` as an operator runs it against the local stack."""
    assert local.aws is not None
    env = user_environment(
        AWS_ENDPOINT_URL=local.aws.endpoint_url,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
    )
    command = [str(Path(sys.executable).with_name("doverunner")), "revocations", *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_pirated_video_ends_with_its_session_blocked_in_waf_and_named_in_the_report(
    local: LocalPipelineStack,
) -> None:
    assert local.doverunner is not None
    session = local.doverunner.emulator.add_session("00000000000000e2", "session_id=sess-e2e;user_id=pirate-e2e")
    token = url_safe(session.revoke_token)

    key = unique_key("e2e-leak.mp4")
    drop(local, key, video(mark="00000000000000e2"))
    result = report_with_revocation(local, key)

    assert result["forensic_mark"]["wm_key"] == "00000000000000e2"
    assert result["revocation"]["token"] == token
    assert result["revocation"]["state"] == "BLOCKED"
    rules = web_acl(local)["Rules"]
    naming = [rule["Name"] for rule in rules for _, tokens in read_rule(rule) if token in tokens]
    assert len(naming) == 1
    assert matches(rules, {}, f"/drm-prefix/{token}.c2Vzc2lvbi1kYXRh/video/segment-42.m4s")
    assert not matches(rules, {}, f"/drm-prefix/{url_safe(revoke_token_for('00000000000000e3'))}.ZGF0YQ/seg.m4s")
    ledger = local.client("dynamodb").get_item(
        TableName=local.outputs["RevocationLedgerTableName"], Key={"token": {"S": token}}, ConsistentRead=True
    )["Item"]
    assert ledger["state"]["S"] == "BLOCKED"
    assert ledger["job_ids"]["SS"] == [result["job_id"]]


def test_operator_sees_a_notification_block_in_the_list_and_lifts_it(local: LocalPipelineStack) -> None:
    assert local.doverunner is not None
    session = local.doverunner.emulator.add_session("00000000000000e5", "session_id=sess-e5")
    token = url_safe(session.revoke_token)
    key = unique_key("e2e-operator.mp4")
    drop(local, key, video(mark="00000000000000e5"))
    report_with_revocation(local, key)
    listed = {entry["token"]: entry for entry in operator(local, "list", "--state", "BLOCKED")["revocations"]}

    unblocked = operator(local, "unblock", token)

    assert listed[token]["forensic_mark"] == "00000000000000e5"
    assert unblocked == {"unblocked": [token]}
    after = {entry["token"]: entry for entry in operator(local, "list")["revocations"]}
    assert after[token]["state"] == "LIFTED"
    assert not matches(web_acl(local)["Rules"], {}, f"/drm-prefix/{token}.ZGF0YQ/segment-1.m4s")
