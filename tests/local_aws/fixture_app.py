"""A small CDK app with the shapes the real stack uses, for testing the local AWS harness.

S3 bucket --(object created under incoming/)--> SQS queue (DLQ after 2 receives) --(event source mapping,
ReportBatchItemFailures, batching window)--> ingest Lambda --> DynamoDB table; it reads a Secrets Manager secret and
reports keys containing "fail" as batch item failures. A state machine: Lambda task -> Wait (SecondsPath) -> Choice.
An SNS topic with an SQS and a Lambda subscription. Two code assets both hold `handler.py` and `pipeline.py`; the
state machine's function has a layer.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3_notifications
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

STACK_NAME = "LocalAwsFixture"
MAX_RECEIVE_COUNT = 2
# Lambda requires the queue's visibility timeout to be at least the function's timeout.
FUNCTION_TIMEOUT_SECONDS = 2
SECRET_USERNAME = "fixture"
ENVIRONMENT_MARK = "from-the-template"

INGEST_HANDLER = """
import json
import os
from urllib.parse import unquote_plus

import boto3

import pipeline

TABLE = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
SECRETS = boto3.client("secretsmanager")


def handler(event, context):
    secret = json.loads(SECRETS.get_secret_value(SecretId=os.environ["SECRET_ARN"])["SecretString"])
    failures = []
    for record in event["Records"]:
        body = json.loads(record["body"])
        # S3 sends an s3:TestEvent (no Records) when the notification is configured.
        for s3_record in body.get("Records", []):
            raw_key = s3_record["s3"]["object"]["key"]
            key = unquote_plus(raw_key)
            TABLE.update_item(
                Key={"pk": key},
                UpdateExpression=(
                    "ADD attempts :one SET raw_key = :raw, batch_size = :batch, module_name = :module, "
                    "mark = :mark, endpoint = :endpoint, username = :username, function_name = :function, "
                    "memory = :memory, remaining_ms = :remaining"
                ),
                ExpressionAttributeValues={
                    ":one": 1,
                    ":raw": raw_key,
                    ":batch": len(event["Records"]),
                    ":module": pipeline.NAME,
                    ":mark": os.environ["FIXTURE_MARK"],
                    ":endpoint": os.environ.get("AWS_ENDPOINT_URL", ""),
                    ":username": secret["username"],
                    ":function": context.function_name,
                    ":memory": context.memory_limit_in_mb,
                    ":remaining": context.get_remaining_time_in_millis(),
                },
            )
            if "fail" in key:
                failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
"""

STEP_HANDLER = """
import importlib.util
import os

import boto3

import pipeline


def handler(event, context):
    if not isinstance(event.get("value"), int):
        raise ValueError(f"value must be an integer, got {event.get('value')!r}")
    return {
        "doubled": event["value"] * 2,
        "wait_seconds": event["wait_seconds"],
        "module_name": pipeline.NAME,
        "function_name": context.function_name,
        "layer_importable": importlib.util.find_spec("fixture_layer_marker") is not None,
    }


def on_notification(event, context):
    table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
    for record in event["Records"]:
        message = record["Sns"]
        table.put_item(
            Item={
                "pk": "sns:" + message["MessageId"],
                "message": message["Message"],
                "topic_arn": message["TopicArn"],
                "module_name": pipeline.NAME,
            }
        )
"""


def write_code(root: Path) -> tuple[Path, Path, Path]:
    """The two code assets, both with modules named `handler` and `pipeline`, and a layer."""
    ingest, step, layer = root / "ingest", root / "step", root / "layer"
    for directory, handler, name in ((ingest, INGEST_HANDLER, "ingest"), (step, STEP_HANDLER, "step")):
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "handler.py").write_text(handler)
        (directory / "pipeline.py").write_text(f"NAME = {name!r}\n")
    (layer / "python").mkdir(parents=True, exist_ok=True)
    (layer / "python" / "fixture_layer_marker.py").write_text("MARK = True\n")
    return ingest, step, layer


class FixtureStack(cdk.Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, ingest_code: Path, step_code: Path, layer_code: Path
    ) -> None:
        super().__init__(scope, construct_id)
        table = dynamodb.Table(
            self,
            "Records",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        )
        secret = secretsmanager.Secret(
            self,
            "ApiSecret",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"username": SECRET_USERNAME}),
                generate_string_key="password",
                exclude_punctuation=True,
            ),
        )
        dead_letters = sqs.Queue(self, "InboxDeadLetters")
        inbox = sqs.Queue(
            self,
            "InboxQueue",
            visibility_timeout=cdk.Duration.seconds(FUNCTION_TIMEOUT_SECONDS),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=MAX_RECEIVE_COUNT),
        )
        bucket = s3.Bucket(self, "InboxBucket")
        bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3_notifications.SqsDestination(inbox),
            s3.NotificationKeyFilter(prefix="incoming/"),
        )

        ingest = lambda_.Function(
            self,
            "IngestFunction",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="handler.handler",
            code=lambda_.Code.from_asset(str(ingest_code)),
            timeout=cdk.Duration.seconds(FUNCTION_TIMEOUT_SECONDS),
            environment={
                "TABLE_NAME": table.table_name,
                "SECRET_ARN": secret.secret_arn,
                "FIXTURE_MARK": ENVIRONMENT_MARK,
            },
        )
        table.grant_read_write_data(ingest)
        secret.grant_read(ingest)
        ingest.add_event_source(
            event_sources.SqsEventSource(
                inbox,
                batch_size=10,
                max_batching_window=cdk.Duration.seconds(1),
                report_batch_item_failures=True,
            )
        )

        # Its wheels would be for the Lambda platform: the local runtime never imports from layers.
        layer = lambda_.LayerVersion(
            self,
            "MarkerLayer",
            code=lambda_.Code.from_asset(str(layer_code)),
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_12],
        )
        step = lambda_.Function(
            self,
            "StepFunction",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="handler.handler",
            code=lambda_.Code.from_asset(str(step_code)),
            timeout=cdk.Duration.seconds(FUNCTION_TIMEOUT_SECONDS),
            layers=[layer],
        )
        double = tasks.LambdaInvoke(self, "Double", lambda_function=step, output_path="$.Payload")
        pause = sfn.Wait(self, "Pause", time=sfn.WaitTime.seconds_path("$.wait_seconds"))
        size = (
            sfn.Choice(self, "BigEnough")
            .when(sfn.Condition.number_greater_than("$.doubled", 10), sfn.Succeed(self, "Big"))
            .otherwise(sfn.Fail(self, "Small", error="TooSmall", cause="doubled value is 10 or less"))
        )
        flow = sfn.StateMachine(
            self, "Flow", definition_body=sfn.DefinitionBody.from_chainable(double.next(pause).next(size))
        )

        notified = lambda_.Function(
            self,
            "NotifiedFunction",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="handler.on_notification",
            code=lambda_.Code.from_asset(str(step_code)),
            timeout=cdk.Duration.seconds(FUNCTION_TIMEOUT_SECONDS),
            environment={"TABLE_NAME": table.table_name},
        )
        table.grant_write_data(notified)
        topic = sns.Topic(self, "Alerts")
        alerts = sqs.Queue(self, "AlertsQueue")
        topic.add_subscription(subscriptions.SqsSubscription(alerts))
        topic.add_subscription(subscriptions.LambdaSubscription(notified))

        for name, value in {
            "BucketName": bucket.bucket_name,
            "TableName": table.table_name,
            "StateMachineArn": flow.state_machine_arn,
            "TopicArn": topic.topic_arn,
            "AlertsQueueUrl": alerts.queue_url,
            "DeadLetterQueueUrl": dead_letters.queue_url,
            "SecretArn": secret.secret_arn,
            "LayerVersionArn": layer.layer_version_arn,
        }.items():
            cdk.CfnOutput(self, name, value=value)


def synthesize(outdir: Path, code_root: Path) -> Path:
    """Synthesizes the fixture app into outdir (a cloud assembly, like cdk.out) and returns it."""
    ingest_code, step_code, layer_code = write_code(code_root)
    app = cdk.App(outdir=str(outdir))
    FixtureStack(app, STACK_NAME, ingest_code=ingest_code, step_code=step_code, layer_code=layer_code)
    app.synth()
    return outdir
