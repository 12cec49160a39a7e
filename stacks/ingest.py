"""Ingest: the inbox bucket, its object-created events through a queue with a dead-letter queue, and the
submit function that runs the upload flow."""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.interfaces.aws_s3 import IBucketRef
from constructs import Construct

from stacks.functions import FunctionInputs
from stacks.nag import acknowledge, acknowledge_scan, resource_evidence
from stacks.queues import queue_with_dead_letter_queue


def private_bucket(scope: Construct, construct_id: str, **options: Any) -> s3.Bucket:
    """A bucket as every bucket of the app is made: encrypted, never public, TLS only, kept when the stack goes."""
    return s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        removal_policy=RemovalPolicy.RETAIN,
        **options,
    )


@jsii.implements(s3.IBucketNotificationDestination)
class AccountQueueDestination:
    """s3_notifications.SqsDestination with the confused-deputy guard it lacks: S3 may send to the queue for this
    bucket (aws:SourceArn) of this account (aws:SourceAccount) only. SqsDestination's statement cannot be given
    conditions."""

    def __init__(self, queue: sqs.IQueue) -> None:
        self.queue = queue

    def bind(self, scope: Construct, bucket: IBucketRef) -> s3.BucketNotificationDestinationConfig:
        self.queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid="InboxBucketEventsOfThisAccount",
                principals=[iam.ServicePrincipal("s3.amazonaws.com")],
                actions=["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
                resources=[self.queue.queue_arn],
                conditions={
                    "ArnLike": {"aws:SourceArn": bucket.bucket_ref.bucket_arn},
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                },
            )
        )
        # S3 checks it may send when the notification is configured: the queue's policy comes first.
        return s3.BucketNotificationDestinationConfig(
            arn=self.queue.queue_arn, type=s3.BucketNotificationDestinationType.QUEUE, dependencies=[self.queue]
        )


class Ingest(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, inputs: FunctionInputs) -> None:
        super().__init__(scope, construct_id)
        settings = inputs.settings
        self.access_logs = private_bucket(
            self,
            "AccessLogsBucket",
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))],
        )
        acknowledge(self.access_logs, "S1", "This is the access-log bucket; logging it into itself would loop.")
        acknowledge_scan(
            self.access_logs,
            "CKV_AWS_18",
            "This is the access-log bucket; logging it into itself would loop.",
            resource_type="AWS::S3::Bucket",
        )
        acknowledge_scan(
            self.access_logs,
            "CKV_AWS_21",
            "Access logs are written once and expire after a year; versions would keep what expiry deletes.",
            resource_type="AWS::S3::Bucket",
        )
        self.bucket = private_bucket(
            self,
            "InboxBucket",
            # Versions make "one detection per object version" exact, and keep the evidence of each drop.
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="inbox-bucket/",
        )
        function_timeout = Duration.seconds(settings.submit_timeout_seconds)
        self.queue, self.dead_letter_queue = queue_with_dead_letter_queue(
            self,
            "Ingest",
            consumer_timeout_seconds=settings.submit_timeout_seconds,
            max_receive_count=settings.max_receive_count,
        )
        self.bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            AccountQueueDestination(self.queue),
            s3.NotificationKeyFilter(prefix=settings.inbox_prefix),
        )
        self.submit = inputs.function(
            self,
            "Submit",
            handler_folder="submit",
            description="DoveRunner detection: submits each video dropped in the inbox (upload or URL detection)",
            memory_mb=settings.submit_memory_mb,
            timeout=function_timeout,
        )
        self.submit.function.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=settings.submit_batch_size,
                report_batch_item_failures=True,
                # Backpressure against DoveRunner: at most this many submissions at once.
                max_concurrency=max(2, settings.submit_max_concurrency),
            )
        )
        inbox_objects = self.bucket.arn_for_objects(f"{settings.inbox_prefix}*")
        self.submit.role.add_to_policy(
            iam.PolicyStatement(actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[inbox_objects])
        )
        acknowledge(
            self.submit.role,
            "IAM5",
            "Reading is scoped to objects under the inbox prefix: a key wildcard, not an action wildcard.",
            evidence=resource_evidence(self, inbox_objects),
        )
        # The report of an object refused before any DoveRunner call.
        self.submit.allow_report_writes(self.bucket, settings.results_prefix)

    def allow_tracking(self, state_machine: sfn.IStateMachine) -> None:
        state_machine.grant_start_execution(self.submit.role)
