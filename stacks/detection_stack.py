"""The one stack of the app; each concern is a construct of its own in this package."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from antipiracy import environment as names
from stacks.functions import FunctionInputs, PipelineFunction
from stacks.ingest import Ingest
from stacks.nag import acknowledge, acknowledge_scan
from stacks.observability import Observability
from stacks.registration import NotificationPublisher, TopicRegistrar
from stacks.revocation import Revocation
from stacks.settings import Settings
from stacks.shared_layer import DoveRunnerClientLayer
from stacks.storage import DoveRunnerSecret, JobsTable
from stacks.tracking import Tracking

STACK_NAME = "DoveRunnerDetection"
# cdk.json context key: "arm64" (default) or "x86_64"; the functions use the layer's architecture.
ARCHITECTURE_CONTEXT_KEY = "doverunner:layerArchitecture"


class DoveRunnerDetectionStack(Stack):
    """From a video dropped in the inbox bucket to a DoveRunner detection report next to it."""

    def __init__(self, scope: Construct, construct_id: str = STACK_NAME, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        settings = Settings.from_context(self)
        self.settings = settings
        retention = _retention(settings.log_retention_days)

        self.client_layer = DoveRunnerClientLayer(
            self, "ClientLayer", architecture=settings.layer_architecture, bytecode=settings.bytecode
        )
        self.jobs = JobsTable(self, "Jobs")
        self.credentials = DoveRunnerSecret(self, "DoveRunnerCredentials")
        topic_key = kms.Key(
            self,
            "TopicKey",
            description="Encrypts the DoveRunner detection topics (results and operator alerts)",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        inputs = FunctionInputs(
            settings=settings,
            layer=self.client_layer,
            environment={
                **settings.function_environment(),
                names.JOBS_TABLE: self.jobs.table.table_name,
                names.DOVERUNNER_SECRET_ID: self.credentials.secret.secret_arn,
            },
            log_retention=retention,
        )
        self.ingest = Ingest(self, "Ingest", inputs=inputs)
        self.tracking = Tracking(
            self,
            "Tracking",
            inputs=inputs,
            bucket=self.ingest.bucket,
            topic_key=topic_key,
            jobs_table=self.jobs.table,
            ingest_queue=self.ingest.queue,
        )
        submit = self.ingest.submit
        submit.add_environment(names.STATE_MACHINE_ARN, self.tracking.state_machine.state_machine_arn)
        # A job the submit function ends (rejected, refused) or holds has its result message too.
        submit.add_environment(names.RESULTS_TOPIC_ARN, self.tracking.results_topic.topic_arn)
        submit.allow_publishing(self.tracking.results_topic, topic_key)
        self.revocation = (
            Revocation(self, "Revocation", inputs=inputs, topic_key=topic_key, bucket=self.ingest.bucket)
            if settings.revocation
            else None
        )
        self.ingest.allow_tracking(self.tracking.state_machine)
        self.publisher, self.registrar = self._registration(inputs, topic_key)

        functions = {"Submit": self.ingest.submit, "Tracker": self.tracking.tracker, "Reporter": self.tracking.reporter}
        if self.revocation is not None:
            functions.update(Revoker=self.revocation.revoker, Lifter=self.revocation.lifter)
        for function in functions.values():
            self.credentials.secret.grant_read(function.role)
        self._grant_jobs(functions["Submit"].role, write=True)
        self._grant_jobs(functions["Tracker"].role)
        self._grant_jobs(functions["Reporter"].role)
        for name in ("Revoker", "Lifter"):
            if name in functions:
                self._grant_jobs(functions[name].role, query=True)
        # A notification ends its job's wait (docs/pipeline.md); the tracker keeps the token on the job.
        if self.revocation is not None:
            self.tracking.allow_waking(self.revocation.revoker)
        # An upload made again on tracking's request: its execution checks at once.
        self.tracking.allow_waking(self.ingest.submit)

        self.observability = Observability(self, "Observability", topic_key=topic_key, alarm_email=settings.alarm_email)
        # Paused submissions are told to the operator at once, beside the alarm on held jobs.
        submit.add_environment(names.OPERATOR_TOPIC_ARN, self.observability.operator_topic.topic_arn)
        submit.allow_publishing(self.observability.operator_topic, topic_key)
        self.prober = self._prober(inputs, settings)
        functions["Prober"] = self.prober
        lambdas = {name: f.function for name, f in functions.items()}
        self.observability.watch_dead_letter_queue(self.ingest.dead_letter_queue)
        if self.revocation is not None:
            self.observability.watch_dead_letter_queue(
                self.revocation.dead_letter_queue, name="RevocationDeadLetterQueueNotEmpty"
            )
            self.observability.watch_capacity()
            self.observability.watch_rejected_notifications()
        self.observability.watch_holds()
        self.observability.watch_functions(lambdas)
        self.observability.watch_state_machine(self.tracking.state_machine)
        self.observability.add_dashboard(
            self.ingest.queue, self.ingest.dead_letter_queue, lambdas, self.tracking.state_machine
        )
        # CDK's own singleton handler that sets the bucket's notification configuration.
        acknowledge(
            self,
            "IAM4",
            "Only CDK's bucket-notifications handler uses a managed policy (AWSLambdaBasicExecutionRole); "
            "the pipeline's functions have their own inline least-privilege roles.",
            evidence=("Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",),
        )
        self._scan_acknowledgements()
        self._outputs()

    def _scan_acknowledgements(self) -> None:
        """checkov's findings (`make scan`) that stay, each with its reason; docs/scan.md explains them at length."""
        for check, reason, resource_type in SCAN_ACKNOWLEDGEMENTS:
            acknowledge_scan(self, check, reason, resource_type=resource_type)

    def _registration(
        self, inputs: FunctionInputs, topic_key: kms.IKey
    ) -> tuple[NotificationPublisher | None, TopicRegistrar | None]:
        """The publish-only user DoveRunner publishes with and, opt-in, the topic registered at deploy time."""
        settings = inputs.settings
        if self.revocation is None or not settings.notification_publisher:
            return None, None
        topic = self.revocation.topic
        publisher = NotificationPublisher(
            self, "NotificationPublisher", topic=topic, topic_key=topic_key, key_serial=settings.publisher_key_serial
        )
        if not settings.register_topic:
            return publisher, None
        registrar = TopicRegistrar(
            self,
            "TopicRegistration",
            inputs=inputs,
            topic=topic,
            publisher=publisher,
            credentials=self.credentials.secret,
        )
        return publisher, registrar

    def _prober(self, inputs: FunctionInputs, settings: Settings) -> PipelineFunction:
        """Every ten minutes: resumes paused submissions once DoveRunner takes requests again (services/holds.py)."""
        prober = inputs.function(
            self,
            "Prober",
            handler_folder="prober",
            description="DoveRunner detection: resumes paused submissions when DoveRunner takes requests again",
            environment={
                names.JOBS_TABLE: self.jobs.table.table_name,
                names.DOVERUNNER_SECRET_ID: self.credentials.secret.secret_arn,
                names.DOVERUNNER_SITE_ID: settings.site_id,
                names.DOVERUNNER_API_URL: settings.api_url,
                names.INGEST_QUEUE_URL: self.ingest.queue.queue_url,
                names.QUOTA_PROBE_SECONDS: str(settings.quota_probe_seconds),
            },
            timeout=Duration.seconds(300),
        )
        prober.run_every(
            self,
            "ProbePausedSubmissions",
            10,
            "Resumes paused DoveRunner submissions once DoveRunner takes requests again",
        )
        self.credentials.secret.grant_read(prober.role)
        self.ingest.queue.grant_send_messages(prober.role)
        prober.role.add_to_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:Query"],
                resources=[
                    self.jobs.table.table_arn,
                    f"{self.jobs.table.table_arn}/index/{JobsTable.STATE_INDEX}",
                ],
            )
        )
        return prober

    def _grant_jobs(self, role: Any, write: bool = False, query: bool = False) -> None:
        from aws_cdk import aws_iam as iam

        actions = ["dynamodb:GetItem", "dynamodb:UpdateItem"] + (["dynamodb:PutItem"] if write else [])
        resources = [self.jobs.table.table_arn]
        if query:
            # The revocation functions find a job by its detection id.
            actions.append("dynamodb:Query")
            resources.append(f"{self.jobs.table.table_arn}/index/{JobsTable.DETECTION_INDEX}")
        role.add_to_policy(iam.PolicyStatement(actions=actions, resources=resources))

    def _outputs(self) -> None:
        outputs = {
            "ClientLayerVersionArn": (
                self.client_layer.layer_version.layer_version_arn,
                "layer with the DoveRunner client",
            ),
            "InboxBucketName": (self.ingest.bucket.bucket_name, "drop suspect videos under the inbox prefix here"),
            "IngestQueueUrl": (self.ingest.queue.queue_url, "S3 events waiting to be submitted"),
            "IngestDeadLetterQueueUrl": (self.ingest.dead_letter_queue.queue_url, "events that could not be submitted"),
            "JobsTableName": (self.jobs.table.table_name, "one item per dropped object version"),
            "StateMachineArn": (self.tracking.state_machine.state_machine_arn, "tracks each job to its end"),
            "ResultsTopicArn": (self.tracking.results_topic.topic_arn, "one message per finished job"),
            "OperatorTopicArn": (self.observability.operator_topic.topic_arn, "alarms"),
            "DoveRunnerSecretArn": (self.credentials.secret.secret_arn, "fill with the DoveRunner credentials"),
            "RequestsPrefix": (self.settings.requests_prefix, "drop URL and live requests (.json, .jsonl) here"),
            "ResultsPrefix": (self.settings.results_prefix, "where the reports are"),
        }
        if self.revocation is not None:
            revocation = self.revocation
            outputs.update(
                {
                    "RevocationTopicArn": (
                        revocation.topic.topic_arn,
                        "register with DoveRunner (doverunner noti register)",
                    ),
                    "RevocationQueueUrl": (revocation.queue.queue_url, "notifications waiting to be acted on"),
                    "RevocationDeadLetterQueueUrl": (
                        revocation.dead_letter_queue.queue_url,
                        "notifications that could not be acted on, with the reason",
                    ),
                    "RevocationLedgerTableName": (revocation.ledger.table_name, "every revoke token and what was done"),
                    "WebAclArn": (revocation.web_acl_arn, "the CloudFront web ACL that blocks sessions"),
                }
            )
        if self.publisher is not None:
            outputs["NotificationPublisherSecretArn"] = (
                self.publisher.secret.secret_arn,
                "the AWS keys DoveRunner publishes to the revocation topic with (doverunner noti register)",
            )
        if self.registrar is not None:
            outputs["DoveRunnerNotificationId"] = (
                self.registrar.notification_id,
                "the topic's registration with DoveRunner (doverunner noti detail)",
            )
        for name, (value, description) in outputs.items():
            CfnOutput(self, name, value=value, description=description)


FUNCTION = "AWS::Lambda::Function"
# (check, reason, resource type): every resource of that type in the stack; docs/scan.md has the longer story.
SCAN_ACKNOWLEDGEMENTS = (
    (
        "CKV_AWS_115",
        "No reserved concurrency: it is taken from the account's pool (deploys fail on accounts at the default "
        "limit); the SQS event sources cap concurrency instead (submitMaxConcurrency, revokerMaxConcurrency).",
        FUNCTION,
    ),
    (
        "CKV_AWS_116",
        "No function is invoked asynchronously with work to lose: SQS sources have their queues' dead-letter "
        "queues, Step Functions tasks report failures, the lifter runs again in five minutes, custom resources "
        "answer CloudFormation.",
        FUNCTION,
    ),
    (
        "CKV_AWS_117",
        "Nothing private to reach: the functions call AWS APIs and DoveRunner on the internet; a VPC adds NAT "
        "gateways and no protection.",
        FUNCTION,
    ),
    (
        "CKV_AWS_173",
        "The environment holds names and ARNs only, no secret (credentials are read from Secrets Manager); Lambda "
        "encrypts it at rest with its AWS managed key.",
        FUNCTION,
    ),
    (
        "CKV_AWS_158",
        "Logs hold no secret (tests/integration/test_no_secrets.py); CloudWatch Logs encrypts them at rest. A "
        "customer managed key would need a key policy for the logs service and adds cost, no protection.",
        "AWS::Logs::LogGroup",
    ),
    (
        "CKV_AWS_119",
        "Encrypted with DynamoDB's AWS managed KMS key (aws/dynamodb); a customer managed key protects nothing "
        "more here, since every reader of the table would be granted it too.",
        "AWS::DynamoDB::Table",
    ),
    (
        "CKV_AWS_149",
        "Encrypted with Secrets Manager's AWS managed KMS key; every reader of the secret would be granted a "
        "customer managed key too, so it would add cost and no protection.",
        "AWS::SecretsManager::Secret",
    ),
    (
        "CKV_AWS_27",
        "The queues are encrypted with SQS managed keys (SqsManagedSseEnabled, CDK's default), which this check "
        "does not read: it looks for KmsMasterKeyId only.",
        "AWS::SQS::Queue",
    ),
    (
        "CKV_AWS_192",
        "The web ACL holds only the revoker's session-block rules, which the revoker rewrites (UpdateWebACL); "
        "a managed rule group would take WCU from the blocks. Attach AWS managed rules with your own web ACL.",
        "AWS::WAFv2::WebACL",
    ),
)

_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def _retention(days: int) -> logs.RetentionDays:
    if days not in _RETENTION:
        raise ValueError(f"context doverunner:logRetentionDays must be one of {sorted(_RETENTION)}, got {days}")
    return _RETENTION[days]
