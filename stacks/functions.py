"""A function of the stack: its handler folder plus the core package (`antipiracy`), the client layer, its own role
and its own log group."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, Aws, BundlingOptions, CustomResource, DockerImage, Duration, ILocalBundling
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct, IValidation

from antipiracy import environment as names
from stacks.bytecode import BytecodeCompiler
from stacks.nag import acknowledge, resource_evidence
from stacks.settings import Settings
from stacks.shared_layer import DoveRunnerClientLayer, package_fingerprint

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = REPO_ROOT / "functions"
CORE_PACKAGE = REPO_ROOT / "core" / "antipiracy"
HANDLERS = ("submit", "tracker", "reporter", "revoker", "lifter", "registrar", "webacl", "prober")
# Read by Powertools itself: every function gets them, none of the settings read them.
POWERTOOLS_ENVIRONMENT = {
    names.POWERTOOLS_SERVICE_NAME: names.SERVICE_NAME,
    names.POWERTOOLS_METRICS_NAMESPACE: names.METRICS_NAMESPACE,
    names.LOG_LEVEL: "INFO",
}
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")


@jsii.implements(ILocalBundling)
class FunctionCodeBundler:
    """A function's code as Lambda receives it: `<handler folder>/` and `antipiracy/` side by side, nothing else."""

    def __init__(self, handler_folder: str, bytecode: BytecodeCompiler | None = None) -> None:
        self.handler_folder = handler_folder
        self.bytecode = bytecode

    @property
    def asset_hash(self) -> str:
        """Changes whenever the bundle's content would: the handler folder or the core package."""
        parts = (
            self.handler_folder,
            package_fingerprint(FUNCTIONS_DIR / self.handler_folder),
            package_fingerprint(CORE_PACKAGE),
            self.bytecode.identity if self.bytecode else "sources only",
        )
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def try_bundle(self, output_dir: str, *, image: DockerImage | None = None, **_options: object) -> bool:
        out = Path(output_dir)
        shutil.copytree(FUNCTIONS_DIR / self.handler_folder, out / self.handler_folder, ignore=_IGNORED)
        shutil.copytree(CORE_PACKAGE, out / CORE_PACKAGE.name, ignore=_IGNORED)
        if self.bytecode:
            self.bytecode.compile_tree(out)
        return True


@jsii.implements(IValidation)
class EnvironmentContract:
    """At synthesis: the function's environment, Powertools' own aside, is what its settings read
    (antipiracy.environment.FUNCTIONS), no variable missing and none that nothing reads."""

    def __init__(self, handler_folder: str, environment: Mapping[str, str]) -> None:
        self.handler_folder = handler_folder
        self.environment = environment

    def validate(self) -> list[str]:
        problems = names.FUNCTIONS[self.handler_folder].problems(self.environment)
        return [f"the {self.handler_folder} function's environment {problem}" for problem in problems]


class PipelineFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler_folder: str,
        description: str,
        layer: DoveRunnerClientLayer,
        environment: Mapping[str, str],
        log_retention: logs.RetentionDays,
        memory_mb: int = 256,
        timeout: Duration | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if handler_folder not in HANDLERS:
            raise ValueError(f"unknown handler folder {handler_folder!r}")
        # What the function is given, checked against the contract once the app is complete (add_environment).
        self.environment = {**environment, **POWERTOOLS_ENVIRONMENT}
        self.node.add_validation(EnvironmentContract(handler_folder, self.environment))
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
        bundler = FunctionCodeBundler(handler_folder, layer.bytecode)
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=layer.runtime,
            architecture=layer.architecture,
            layers=[layer.layer_version],
            code=lambda_.Code.from_asset(
                str(FUNCTIONS_DIR / handler_folder),
                asset_hash_type=AssetHashType.CUSTOM,
                asset_hash=bundler.asset_hash,
                bundling=BundlingOptions(
                    # Required by the API but never pulled: local bundling copies two folders.
                    image=DockerImage.from_registry("local-bundling-only"),
                    local=bundler,
                ),
            ),
            handler=f"{handler_folder}.handler.lambda_handler",
            role=self.role,
            log_group=self.log_group,
            memory_size=memory_mb,
            timeout=timeout or Duration.seconds(60),
            tracing=lambda_.Tracing.ACTIVE,
            environment=self.environment,
        )
        self.acknowledge_xray()

    def add_environment(self, name: str, value: str) -> None:
        """A variable known only once the function exists (the state machine that the function starts)."""
        self.environment[name] = value
        self.function.add_environment(name, value)

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

    def run_every(self, scope: Construct, construct_id: str, minutes: int, description: str) -> events.Rule:
        """A schedule in `scope` that invokes the function every `minutes` (the lifter's, the prober's)."""
        return events.Rule(
            scope,
            construct_id,
            description=description,
            schedule=events.Schedule.rate(Duration.minutes(minutes)),
            targets=[targets.LambdaFunction(self.function)],
        )

    def allow_publishing(self, topic: sns.ITopic, key: kms.IKey) -> None:
        """Publishing to an encrypted topic: sns:Publish on it, and its key only as SNS uses it on the function's
        behalf. Explicit actions: grant_publish would add kms:GenerateDataKey*, an action wildcard."""
        self.role.add_to_policy(iam.PolicyStatement(actions=["sns:Publish"], resources=[topic.topic_arn]))
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"sns.{Aws.REGION}.{Aws.URL_SUFFIX}"}},
            )
        )

    def allow_report_writes(self, bucket: s3.IBucket, results_prefix: str) -> None:
        """Writing reports, and only reports: objects under the results prefix. The key's current report is read
        before it is replaced (a conditional write: services/report.py)."""
        reports = bucket.arn_for_objects(f"{results_prefix}*")
        self.role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=[reports]))
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


@dataclass(frozen=True)
class FunctionInputs:
    """What every construct that makes functions is given: the app's settings, the client layer, the environment
    the detection functions share and how long the functions' logs are kept."""

    settings: Settings
    layer: DoveRunnerClientLayer
    environment: Mapping[str, str]
    log_retention: logs.RetentionDays

    def function(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler_folder: str,
        description: str,
        environment: Mapping[str, str] | None = None,
        memory_mb: int = 256,
        timeout: Duration | None = None,
    ) -> PipelineFunction:
        """A function with this layer and log retention; `environment`: its own, else the shared one."""
        return PipelineFunction(
            scope,
            construct_id,
            handler_folder=handler_folder,
            description=description,
            layer=self.layer,
            environment=self.environment if environment is None else environment,
            log_retention=self.log_retention,
            memory_mb=memory_mb,
            timeout=timeout,
        )
