"""The local AWS's Step Functions: an optional flag that is absent takes the default branch without an ERROR line."""

from __future__ import annotations

import json
import logging
import time
import uuid

import pytest

from doverunner_local.aws import LocalAws

FLAG = "$.check.wait"
DEFINITION = {
    "StartAt": "Choose",
    "States": {
        "Choose": {
            "Type": "Choice",
            "Choices": [
                {
                    "And": [{"Variable": FLAG, "IsPresent": True}, {"Variable": FLAG, "BooleanEquals": True}],
                    "Next": "Flagged",
                }
            ],
            "Default": "NotFlagged",
        },
        "Flagged": {"Type": "Pass", "Result": {"branch": "flagged"}, "End": True},
        "NotFlagged": {"Type": "Pass", "Result": {"branch": "not flagged"}, "End": True},
    },
}


def _run(aws: LocalAws, machine: str, state: dict[str, object]) -> str:
    sfn = aws.client("stepfunctions")
    name = uuid.uuid4().hex
    execution = sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(state))["executionArn"]
    deadline = time.monotonic() + 30
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not end"
        time.sleep(0.05)
    assert described["status"] == "SUCCEEDED"
    return str(json.loads(described["output"])["branch"])


def test_an_absent_optional_flag_takes_the_default_branch_and_logs_no_error(caplog: pytest.LogCaptureFixture) -> None:
    with LocalAws() as aws:
        role = f"arn:aws:iam::{aws.account_id}:role/states"
        machine = aws.client("stepfunctions").create_state_machine(
            name="flags", definition=json.dumps(DEFINITION), roleArn=role
        )["stateMachineArn"]
        with caplog.at_level(logging.ERROR):
            absent = _run(aws, machine, {"check": {}})
            present = _run(aws, machine, {"check": {"wait": True}})

    assert (absent, present) == ("not flagged", "flagged")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
