"""A pipeline function: its code folder plus the shared `pipeline` package, the client layer, its own role and
its own log group."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CustomResource, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.nag import acknowledge, resource_evidence
from stacks.shared_layer import DoveRunnerClientLayer

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"
HANDLERS = ("submit", "tracker", "reporter", "revoker", "lifter", "registrar", "waiter", "webacl")


class PipelineFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler_folder: str,
        description: str,
        layer: DoveRunnerClientLayer,
        environment: dict[str, str],
        log_retention: logs.RetentionDays,
        memory_mb: int = 256,
        timeout: Duration | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if handler_folder not in HANDLERS:
            raise ValueError(f"unknown handler folder {handler_folder!r}")
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{description} (Lambda execution role)",
        )
        # Writing to its own log group only: no managed policy with logs:* on every group.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                # The log group's ARN already ends in ":*", which covers its streams.
                resources=[self.log_group.log_group_arn],
            )
        )
        others = [name for name in HANDLERS if name != handler_folder]
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=layer.runtime,
            architecture=layer.architecture,
            layers=[layer.layer_version],
            # Its own handler folder and the shared pipeline package; nothing else of functions/.
            code=lambda_.Code.from_asset(
                str(FUNCTIONS_DIR), exclude=[*others, "README.md", "**/__pycache__", "**/*.pyc"]
            ),
            handler=f"{handler_folder}.handler.lambda_handler",
            role=self.role,
            log_group=self.log_group,
            memory_size=memory_mb,
            timeout=timeout or Duration.seconds(60),
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                **environment,
                "POWERTOOLS_SERVICE_NAME": "doverunner-detection",
                "POWERTOOLS_METRICS_NAMESPACE": "DoveRunnerDetection",
                "LOG_LEVEL": "INFO",
            },
        )
        self.acknowledge_xray()

    def serve_custom_resource(
        self, scope: Construct, construct_id: str, *, resource_type: str, properties: dict[str, str], timeout: Duration
    ) -> CustomResource:
        """A custom resource this function answers itself (no provider framework: no second, Node.js function and
        role). CloudFormation invokes it asynchronously: never retried, as a retry would run a second create."""
        self.function.configure_async_invoke(retry_attempts=0)
        return CustomResource(
            scope,
            construct_id,
            service_token=self.function.function_arn,
            resource_type=resource_type,
            properties=properties,
            service_timeout=timeout,
        )

    def allow_report_writes(self, bucket: s3.IBucket, results_prefix: str) -> None:
        """Writing reports, and only reports: objects under the results prefix."""
        reports = bucket.arn_for_objects(f"{results_prefix}*")
        self.role.add_to_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[reports]))
        acknowledge(
            self.role,
            "IAM5",
            "Reports are written under the results prefix only: a key wildcard, not an action wildcard.",
            evidence=resource_evidence(self, reports),
        )

    def acknowledge_xray(self) -> None:
        """Active tracing needs xray:PutTraceSegments and PutTelemetryRecords, which take only Resource '*'."""
        acknowledge(
            self.role,
            "IAM5",
            "X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions.",
            evidence=("Resource::*",),
        )
