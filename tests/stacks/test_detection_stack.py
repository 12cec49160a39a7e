"""The synthesized DoveRunnerDetection stack: its template, and the checks it must pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template
from cfnlint.api import ManualArgs, lint_file
from stack_synthesis import STACK_NAME, Synthesis

import app as app_module
from stacks.detection_stack import ARCHITECTURE_CONTEXT_KEY

# Skips the pip bundling for in-process apps that only need the construct tree.
NO_BUNDLING: dict[str, Any] = {"aws:cdk:bundling-stacks": []}


def test_synthesis_needs_no_aws_credentials_and_no_lookups(synthesis: Synthesis) -> None:
    # given no AWS_* variables and no ~/.aws (fixture); when app.py ran
    assert synthesis.returncode == 0, synthesis.output

    # then the stack is environment-agnostic and nothing was left to look up
    manifest = synthesis.read_json("manifest.json")
    assert manifest["artifacts"][STACK_NAME]["environment"] == "aws://unknown-account/unknown-region"
    assert "missing" not in manifest


def test_layer_is_built_for_arm64_and_python314(template: Template) -> None:
    template.resource_count_is("AWS::Lambda::LayerVersion", 1)
    template.has_resource_properties(
        "AWS::Lambda::LayerVersion",
        {"CompatibleArchitectures": ["arm64"], "CompatibleRuntimes": ["python3.14"]},
    )


def test_old_layer_versions_are_retained(template: Template) -> None:
    # Functions deployed earlier may still reference an old version.
    template.has_resource("AWS::Lambda::LayerVersion", {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})


def test_layer_version_arn_is_a_stack_output(template: Template) -> None:
    (layer_id,) = template.find_resources("AWS::Lambda::LayerVersion")
    template.has_output("ClientLayerVersionArn", {"Value": {"Ref": layer_id}})


def test_template_passes_cfn_lint(synthesized: Synthesis) -> None:
    # W3005: CDK writes DependsOn entries that cfn-lint finds redundant.
    matches = lint_file(synthesized.template_path, config=ManualArgs(ignore_checks=["W3005"]))
    assert matches == []


def test_cdk_nag_leaves_no_unacknowledged_finding(synthesized: Synthesis) -> None:
    # given synthesis succeeded, which it would not with an open finding; then the report agrees
    report = synthesized.read_json("validation-report.json")
    violations = [v for plugin in report["pluginReports"] for v in plugin.get("violations", [])]
    assert violations == []


def test_cdk_nag_makes_synthesis_fail_on_an_unacknowledged_finding(tmp_path: Path) -> None:
    # given the app with a bucket that breaks AwsSolutions-S1 and -S10
    app = app_module.build_app(NO_BUNDLING, outdir=str(tmp_path))
    stack = app.node.find_child(STACK_NAME)
    assert isinstance(stack, cdk.Stack)
    s3.Bucket(stack, "NonCompliantProbe")

    # when synthesizing; then cdk-nag stops it and names the rule
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    assert "AwsSolutions-S10" in (tmp_path / "validation-report.json").read_text()


def test_unknown_layer_architecture_in_context_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported layer architecture 'sparc'"):
        app_module.build_app({**NO_BUNDLING, ARCHITECTURE_CONTEXT_KEY: "sparc"})


def test_a_notified_poll_no_longer_than_the_longest_wait_is_refused() -> None:
    context = {**NO_BUNDLING, "doverunner:maxWaitSeconds": 900, "doverunner:notifiedPollSeconds": 900}

    with pytest.raises(ValueError, match="notifiedPollSeconds must be longer than doverunner:maxWaitSeconds"):
        app_module.build_app(context)
