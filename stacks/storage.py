"""The jobs table and the secret that holds DoveRunner's credentials."""

from __future__ import annotations

import json

from aws_cdk import RemovalPolicy, SecretValue
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks.nag import acknowledge

SECRET_TEMPLATE = {"site_key": "", "access_key": "", "account_id": ""}


def record_table(
    scope: Construct, construct_id: str, *, partition_key: str, time_to_live_attribute: str | None = None
) -> dynamodb.Table:
    """A table that is a record (of what was detected, of what was blocked): on demand, encrypted, recoverable to
    any point in time, and kept when the stack goes. `partition_key`: a string attribute. `time_to_live_attribute`:
    a number attribute (epoch seconds) after which DynamoDB deletes the item; items without it stay."""
    return dynamodb.Table(
        scope,
        construct_id,
        partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        removal_policy=RemovalPolicy.RETAIN,
        time_to_live_attribute=time_to_live_attribute,
    )


class JobsTable(Construct):
    """One item per S3 object version or request (job_id); found by DoveRunner detection id, and listed by state
    (held jobs, an operator's `doverunner jobs list --state`), through secondary indexes."""

    DETECTION_INDEX = "by-detection-id"
    STATE_INDEX = "by-state"

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.table = record_table(self, "Table", partition_key="job_id")
        self.table.add_global_secondary_index(
            index_name=self.DETECTION_INDEX,
            partition_key=dynamodb.Attribute(name="detection_id", type=dynamodb.AttributeType.NUMBER),
        )
        self.table.add_global_secondary_index(
            index_name=self.STATE_INDEX,
            partition_key=dynamodb.Attribute(name="state", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="created_at", type=dynamodb.AttributeType.STRING),
        )


class DoveRunnerSecret(Construct):
    """Created empty; the operator fills it (README). The functions read it with caching."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            description=(
                "DoveRunner credentials for the detection pipeline: JSON with site_key (32 bytes), access_key, "
                "account_id, optionally account_access_key. Filled by the operator after deploy."
            ),
            # Empty fields, not credentials: the operator puts the real values in after deploy.
            secret_string_value=SecretValue.unsafe_plain_text(json.dumps(SECRET_TEMPLATE)),
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.secret,
            "SMG4",
            "DoveRunner issues the site key and access key; AWS cannot rotate them. The operator replaces the "
            "secret's value when DoveRunner issues new ones.",
        )
