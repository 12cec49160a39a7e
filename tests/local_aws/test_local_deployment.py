"""The fixture app deployed into the local AWS behaves the way it would in AWS."""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest

from doverunner_local.aws import LocalAws, LocalDeployment

from .fixture_app import ENVIRONMENT_MARK, MAX_RECEIVE_COUNT, SECRET_USERNAME
from .waiting import eventually

# Spaces, a plus sign and Korean: what S3 event keys must encode and the Lambda must decode.
AWKWARD_KEY = "incoming/보고서 초안+v1 final.mp4"


def _item(aws: LocalAws, deployment: LocalDeployment, key: str) -> dict[str, Any] | None:
    response = aws.client("dynamodb").get_item(TableName=deployment.outputs["TableName"], Key={"pk": {"S": key}})
    item: dict[str, Any] | None = response.get("Item")
    return item


def _put_and_wait(aws: LocalAws, deployment: LocalDeployment, key: str) -> dict[str, Any]:
    aws.client("s3").put_object(Bucket=deployment.outputs["BucketName"], Key=key, Body=b"suspect video")
    return eventually(lambda: _item(aws, deployment, key))


@pytest.fixture(scope="module")
def awkward_item(local_aws: LocalAws, deployment: LocalDeployment) -> dict[str, Any]:
    """The table item the ingest Lambda wrote for AWKWARD_KEY, once every mapped queue is empty again."""
    _put_and_wait(local_aws, deployment, AWKWARD_KEY)
    deployment.wait_until_queues_drained()
    item = _item(local_aws, deployment, AWKWARD_KEY)
    assert item is not None
    return item


@dataclass(frozen=True)
class FailureFlow:
    failing_item: dict[str, Any]
    succeeding_item: dict[str, Any]
    dead_letters: list[dict[str, Any]]


@pytest.fixture(scope="module")
def failure_flow(local_aws: LocalAws, deployment: LocalDeployment) -> FailureFlow:
    """Two objects in one batch, one of them reported as a batch item failure, followed to the DLQ."""
    sqs = local_aws.client("sqs")
    # Whatever is still queued (S3's s3:TestEvent after the deployment) would join the batch.
    deployment.wait_until_queues_drained()
    # Sent together (S3 would send one message per object), so that the poller puts them in one batch.
    entries = [
        {"Id": name, "MessageBody": json.dumps({"Records": [{"s3": {"object": {"key": quote_plus(key)}}}]})}
        for name, key in (("ok", "incoming/batch-ok.mp4"), ("fail", "incoming/batch-fail.mp4"))
    ]
    sqs.send_message_batch(QueueUrl=deployment.physical_id("InboxQueue"), Entries=entries)

    def dead_letters() -> list[dict[str, Any]]:
        response = sqs.receive_message(
            QueueUrl=deployment.outputs["DeadLetterQueueUrl"], MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    received = eventually(dead_letters, timeout=20)
    failing = _item(local_aws, deployment, "incoming/batch-fail.mp4")
    succeeding = _item(local_aws, deployment, "incoming/batch-ok.mp4")
    assert failing is not None
    assert succeeding is not None
    return FailureFlow(failing, succeeding, received)


def test_deployment_lists_every_template_resource_by_logical_id(
    deployment: LocalDeployment, fixture_cdk_out: Path
) -> None:
    template = json.loads((fixture_cdk_out / "LocalAwsFixture.template.json").read_text())
    assert set(deployment.resources) == set(template["Resources"])


def test_outputs_resolve_to_the_physical_resources(deployment: LocalDeployment) -> None:
    assert deployment.outputs["BucketName"] == deployment.physical_id("InboxBucket")
    assert deployment.outputs["StateMachineArn"] == deployment.physical_id("Flow")
    assert deployment.outputs["SecretArn"] == deployment.arn("ApiSecret")


def test_layer_version_output_is_its_arn(deployment: LocalDeployment) -> None:
    assert deployment.outputs["LayerVersionArn"] == deployment.physical_id("MarkerLayer")
    assert deployment.outputs["LayerVersionArn"].startswith("arn:aws:lambda:")


def test_types_moto_cannot_create_are_listed_as_placeholders(deployment: LocalDeployment) -> None:
    assert set(deployment.placeholders.values()) == {"AWS::SQS::QueuePolicy"}


def test_object_with_awkward_key_reaches_the_lambda_once_decoded(awkward_item: dict[str, Any]) -> None:
    assert awkward_item["attempts"] == {"N": "1"}


def test_s3_event_key_is_form_encoded_with_its_slashes_kept(awkward_item: dict[str, Any]) -> None:
    assert awkward_item["raw_key"]["S"] == quote_plus(AWKWARD_KEY, safe="/")


def test_failing_message_ends_in_the_dead_letter_queue_after_max_receive_count(failure_flow: FailureFlow) -> None:
    assert [json.loads(m["Body"])["Records"][0]["s3"]["object"]["key"] for m in failure_flow.dead_letters] == [
        quote_plus("incoming/batch-fail.mp4")
    ]
    assert failure_flow.failing_item["attempts"] == {"N": str(MAX_RECEIVE_COUNT)}


def test_message_batched_with_a_failure_is_processed_once(failure_flow: FailureFlow) -> None:
    assert failure_flow.succeeding_item["batch_size"] == {"N": "2"}
    assert failure_flow.succeeding_item["attempts"] == {"N": "1"}


def test_state_machine_runs_the_lambda_task_and_the_wait_to_success(
    local_aws: LocalAws, deployment: LocalDeployment
) -> None:
    sfn = local_aws.client("stepfunctions")
    started = time.monotonic()
    execution_arn = sfn.start_execution(
        stateMachineArn=deployment.outputs["StateMachineArn"],
        name=f"test-{uuid.uuid4().hex[:8]}",
        input=json.dumps({"value": 6, "wait_seconds": 1}),
    )["executionArn"]

    def finished() -> dict[str, Any] | None:
        description: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        return None if description["status"] == "RUNNING" else description

    description = eventually(finished, timeout=20)
    events = sfn.get_execution_history(executionArn=execution_arn)["events"]
    assert description["status"] == "SUCCEEDED"
    assert json.loads(description["output"])["doubled"] == 12
    assert "WaitStateEntered" in {event["type"] for event in events}
    assert time.monotonic() - started >= 1


def test_sns_publish_reaches_the_sqs_subscription(local_aws: LocalAws, deployment: LocalDeployment) -> None:
    local_aws.client("sns").publish(TopicArn=deployment.outputs["TopicArn"], Message="to the queue")
    response = local_aws.client("sqs").receive_message(QueueUrl=deployment.outputs["AlertsQueueUrl"], WaitTimeSeconds=5)
    envelope = json.loads(response["Messages"][0]["Body"])
    assert (envelope["Message"], envelope["TopicArn"]) == ("to the queue", deployment.outputs["TopicArn"])


def test_sns_publish_reaches_the_lambda_subscription_with_its_topic(
    local_aws: LocalAws, deployment: LocalDeployment
) -> None:
    message_id = local_aws.client("sns").publish(TopicArn=deployment.outputs["TopicArn"], Message="to the function")[
        "MessageId"
    ]
    item = eventually(lambda: _item(local_aws, deployment, f"sns:{message_id}"))
    assert (item["message"]["S"], item["topic_arn"]["S"]) == ("to the function", deployment.outputs["TopicArn"])


def test_lambda_sees_its_environment_and_the_local_endpoint(local_aws: LocalAws, awkward_item: dict[str, Any]) -> None:
    assert awkward_item["mark"]["S"] == ENVIRONMENT_MARK
    assert awkward_item["endpoint"]["S"] == local_aws.endpoint_url


def test_lambda_reads_the_secret_generated_by_the_template(awkward_item: dict[str, Any]) -> None:
    assert awkward_item["username"]["S"] == SECRET_USERNAME


def test_lambda_gets_a_context_like_the_python_runtime(
    deployment: LocalDeployment, awkward_item: dict[str, Any]
) -> None:
    assert awkward_item["function_name"]["S"] == deployment.physical_id("IngestFunction")
    assert awkward_item["memory"]["S"] == "128"
    assert 0 < int(awkward_item["remaining_ms"]["N"]) <= 2000


def test_handler_exception_comes_back_as_an_unhandled_function_error(
    local_aws: LocalAws, deployment: LocalDeployment
) -> None:
    response = local_aws.client("lambda").invoke(
        FunctionName=deployment.physical_id("StepFunction"), Payload=json.dumps({"value": "six"})
    )
    payload = json.loads(response["Payload"].read())
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "ValueError"
    assert "value must be an integer" in payload["errorMessage"]


def test_functions_with_same_module_names_run_their_own_modules(
    local_aws: LocalAws, deployment: LocalDeployment, awkward_item: dict[str, Any]
) -> None:
    response = local_aws.client("lambda").invoke(
        FunctionName=deployment.physical_id("StepFunction"), Payload=json.dumps({"value": 1, "wait_seconds": 0})
    )
    assert json.loads(response["Payload"].read())["module_name"] == "step"
    assert awkward_item["module_name"]["S"] == "ingest"


def test_function_modules_stay_out_of_the_host_modules(awkward_item: dict[str, Any]) -> None:
    for name in ("handler", "pipeline"):
        assert "doverunner-lambda-" not in str(getattr(sys.modules.get(name), "__file__", ""))


def test_host_environment_is_untouched_by_invocations(awkward_item: dict[str, Any]) -> None:
    assert "FIXTURE_MARK" not in os.environ
    assert "AWS_LAMBDA_FUNCTION_NAME" not in os.environ


def test_layer_contents_are_not_importable_in_process(local_aws: LocalAws, deployment: LocalDeployment) -> None:
    response = local_aws.client("lambda").invoke(
        FunctionName=deployment.physical_id("StepFunction"), Payload=json.dumps({"value": 1, "wait_seconds": 0})
    )
    assert json.loads(response["Payload"].read())["layer_importable"] is False
