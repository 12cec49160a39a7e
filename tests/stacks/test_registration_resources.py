"""Letting DoveRunner publish: the publish-only user and its secret (on by default), and the custom resource that
registers the topic (opt-in, `doverunner:registerTopic`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file
from stack_synthesis import STACK_NAME
from template_queries import actions_of, function_id, resources, role_statements

import app as app_module

# Skips the pip bundling: these tests read the template only.
NO_BUNDLING: dict[str, Any] = {"aws:cdk:bundling-stacks": []}
REGISTRATION = "Custom::DoveRunnerTopicRegistration"


def synthesize(outdir: Path, context: dict[str, Any]) -> dict[str, Any]:
    """The app with `context` on top of cdk.json's, cdk-nag included (an open finding makes synth raise)."""
    app_module.build_app({**NO_BUNDLING, **context}, outdir=str(outdir)).synth()
    template: dict[str, Any] = json.loads((outdir / f"{STACK_NAME}.template.json").read_text())
    return template


@pytest.fixture(scope="module")
def registering(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """cdk.out of the app with the topic registered at deploy time and a rotated publisher key."""
    outdir = tmp_path_factory.mktemp("registering")
    synthesize(outdir, {"doverunner:registerTopic": True, "doverunner:publisherKeySerial": 2})
    return outdir


@pytest.fixture(scope="module")
def registering_json(registering: Path) -> dict[str, Any]:
    template: dict[str, Any] = json.loads((registering / f"{STACK_NAME}.template.json").read_text())
    return template


def only(template_json: dict[str, Any], kind: str) -> tuple[str, dict[str, Any]]:
    (found,) = resources(template_json, kind).items()
    return found


def publisher_secret_id(template_json: dict[str, Any]) -> str:
    return str(template_json["Outputs"]["NotificationPublisherSecretArn"]["Value"]["Ref"])


def policies_of_user(template_json: dict[str, Any], user_id: str) -> list[dict[str, Any]]:
    """Every inline or managed policy attached to the user."""
    policies = [*resources(template_json, "AWS::IAM::Policy").values()]
    policies += resources(template_json, "AWS::IAM::ManagedPolicy").values()
    return [p for p in policies if {"Ref": user_id} in p["Properties"].get("Users", [])]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def all_statements(template_json: dict[str, Any]) -> list[dict[str, Any]]:
    policies = resources(template_json, "AWS::IAM::Policy").values()
    return [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]


# ---- the publish-only user (default template) -------------------------------------------------------------------


def test_publisher_user_may_only_publish_to_the_revocation_topic_with_its_key(template_json: dict[str, Any]) -> None:
    user_id, _ = only(template_json, "AWS::IAM::User")
    key_id, _ = only(template_json, "AWS::KMS::Key")
    (topic_id,) = [k for k in resources(template_json, "AWS::SNS::Topic") if k.startswith("RevocationRevocationTopic")]

    (policy,) = policies_of_user(template_json, user_id)
    statements = policy["Properties"]["PolicyDocument"]["Statement"]

    assert [(s["Effect"], s["Action"], s["Resource"]) for s in statements] == [
        ("Allow", "sns:Publish", {"Ref": topic_id}),
        ("Allow", ["kms:Decrypt", "kms:GenerateDataKey"], {"Fn::GetAtt": [key_id, "Arn"]}),
    ]
    assert statements[1]["Condition"]["StringEquals"]["kms:EncryptionContext:aws:sns:topicArn"] == {"Ref": topic_id}
    assert "kms:ViaService" in statements[1]["Condition"]["StringEquals"]


def test_publisher_user_has_no_console_login_no_group_and_no_other_policy(template_json: dict[str, Any]) -> None:
    user_id, user = only(template_json, "AWS::IAM::User")

    assert user.get("Properties", {}) == {}  # no LoginProfile, Groups, ManagedPolicyArns, Policies
    assert resources(template_json, "AWS::IAM::Group") == {}
    assert resources(template_json, "AWS::IAM::UserToGroupAddition") == {}
    assert len(policies_of_user(template_json, user_id)) == 1


def test_publisher_secret_holds_the_access_key_by_reference_never_in_plain_text(template_json: dict[str, Any]) -> None:
    key_id, _ = only(template_json, "AWS::IAM::AccessKey")
    secret = template_json["Resources"][publisher_secret_id(template_json)]

    parts = secret["Properties"]["SecretString"]["Fn::Join"][1]

    assert {"Ref": key_id} in parts
    assert {"Fn::GetAtt": [key_id, "SecretAccessKey"]} in parts
    assert '"aws_access_key":"' in parts[0]
    assert "AKIA" not in json.dumps(template_json)


def test_publisher_access_key_belongs_to_the_publisher_user(template_json: dict[str, Any]) -> None:
    user_id, _ = only(template_json, "AWS::IAM::User")
    _, key = only(template_json, "AWS::IAM::AccessKey")

    assert key["Properties"] == {"Serial": 1, "UserName": {"Ref": user_id}}


def test_no_function_may_read_the_publisher_secret_when_the_topic_is_registered_by_hand(
    template_json: dict[str, Any],
) -> None:
    secret = {"Ref": publisher_secret_id(template_json)}

    readers = [s for s in all_statements(template_json) if secret in as_list(s["Resource"])]

    assert readers == []


def test_the_topic_is_not_registered_unless_asked(template_json: dict[str, Any]) -> None:
    assert resources(template_json, REGISTRATION) == {}
    assert "DoveRunnerNotificationId" not in template_json["Outputs"]


def test_turning_the_publisher_off_leaves_no_iam_user(tmp_path: Path) -> None:
    template = synthesize(tmp_path, {"doverunner:notificationPublisher": False})

    assert resources(template, "AWS::IAM::User") == {}
    assert resources(template, "AWS::IAM::AccessKey") == {}
    assert "NotificationPublisherSecretArn" not in template["Outputs"]


@pytest.mark.parametrize(
    ("context", "needs"),
    [
        ({"doverunner:notificationPublisher": False}, "notificationPublisher"),
        ({"doverunner:revocation": False}, "revocation"),
    ],
)
def test_registering_the_topic_without_what_it_needs_is_refused(context: dict[str, Any], needs: str) -> None:
    with pytest.raises(ValueError, match=f"registerTopic needs .*{needs}"):
        app_module.build_app({**NO_BUNDLING, **context, "doverunner:registerTopic": True})


# ---- the registration (registerTopic) ---------------------------------------------------------------------------


def test_registration_is_served_by_the_registrar_function_and_names_the_topic_and_publisher_secret(
    registering_json: dict[str, Any],
) -> None:
    _, registration = only(registering_json, REGISTRATION)
    properties = registration["Properties"]
    (topic_id,) = [k for k in resources(registering_json, "AWS::SNS::Topic") if k.startswith("RevocationRevocation")]

    assert properties["ServiceToken"] == {"Fn::GetAtt": [function_id(registering_json, "registrar"), "Arn"]}
    assert properties["TopicArn"] == {"Ref": topic_id}
    assert properties["PublisherSecretArn"] == {"Ref": publisher_secret_id(registering_json)}
    assert properties["Name"] == {"Ref": "AWS::StackName"}


def test_a_new_publisher_key_serial_replaces_the_key_and_updates_the_registration(
    registering_json: dict[str, Any],
) -> None:
    _, key = only(registering_json, "AWS::IAM::AccessKey")
    _, registration = only(registering_json, REGISTRATION)

    assert key["Properties"]["Serial"] == 2
    assert registration["Properties"]["PublisherKeySerial"] == "2"


def test_registrar_may_only_read_the_two_secrets(registering_json: dict[str, Any]) -> None:
    statements = role_statements(registering_json, "registrar")
    credentials = registering_json["Outputs"]["DoveRunnerSecretArn"]["Value"]
    reads = [s for s in statements if s["Action"] == "secretsmanager:GetSecretValue"]

    assert actions_of(statements) == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
        "secretsmanager:GetSecretValue",
    }
    assert [s["Resource"] for s in reads] == [[credentials, {"Ref": publisher_secret_id(registering_json)}]]


def test_registrar_answers_before_cloudformation_stops_waiting_and_is_never_retried(
    registering_json: dict[str, Any],
) -> None:
    function = registering_json["Resources"][function_id(registering_json, "registrar")]["Properties"]
    _, registration = only(registering_json, REGISTRATION)
    registrar = function_id(registering_json, "registrar")
    (invoke_config,) = [
        c
        for c in resources(registering_json, "AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": registrar}
    ]

    assert function["Timeout"] < int(registration["Properties"]["ServiceTimeout"])
    assert invoke_config["Properties"]["MaximumRetryAttempts"] == 0


def test_registration_id_is_a_stack_output(registering_json: dict[str, Any]) -> None:
    registration_id, _ = only(registering_json, REGISTRATION)

    assert registering_json["Outputs"]["DoveRunnerNotificationId"]["Value"] == {
        "Fn::GetAtt": [registration_id, "NotificationId"]
    }


def test_registering_template_is_cdk_nag_clean_with_reasons(registering: Path) -> None:
    report = json.loads((registering / "validation-report.json").read_text())

    assert [v for plugin in report["pluginReports"] for v in plugin.get("violations", [])] == []
    assert all(v["reason"] for plugin in report["pluginReports"] for v in plugin.get("suppressedViolations", []))


def test_registering_template_passes_cfn_lint(registering: Path) -> None:
    # W3005: CDK writes DependsOn entries that cfn-lint finds redundant.
    matches = lint_file(registering / f"{STACK_NAME}.template.json", config=ManualArgs(ignore_checks=["W3005"]))

    assert matches == []
