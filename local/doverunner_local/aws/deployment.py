"""A local AWS (moto server plus `moto_glue`) and the deployment of a synthesized CDK stack into it.

    with LocalAws() as aws:
        deployment = aws.deploy(Path("cdk.out"), "DoveRunnerDetection")
        bucket = deployment.physical_id("InboxBucket")
        ...

`deploy` does what `cdk deploy` and AWS would do: the bootstrap resources (the version parameter and the asset
bucket that `cdk bootstrap` creates), the file assets from cdk.out, the stack through CloudFormation; then what the
Lambda service does for SQS event source mappings (`event_sources.SqsPoller`), which moto does not.
moto keeps its state per process: one LocalAws at a time; closing one forgets its resources.
"""

from __future__ import annotations

import io
import json
import logging
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from doverunner_local.aws.event_sources import SqsEventSourceMapping, SqsPoller
from doverunner_local.aws.lambda_runtime import DUMMY_CREDENTIALS, InvocationResult
from doverunner_local.aws.moto_glue import MotoGlue, reset_moto_state

log = logging.getLogger("doverunner_local.aws")


class _AbsentPathIsNoError(logging.Filter):
    """moto's Step Functions logs an ERROR each time IsPresent finds a path absent (it evaluates the path to find
    out and logs the miss before catching it); AWS does not. The state machine's optional flags (IsPresent and
    BooleanEquals) would print one such line per Check."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Exception=NoSuchJsonPathError" not in record.getMessage()


_STEP_FUNCTIONS_EVALUATION = logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component")

DEFAULT_REGION = "us-east-1"
# What `cdk bootstrap` (version 30 of its template) would have written; CDK templates check it is at least 6.
BOOTSTRAP_VERSION = "30"
_CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
# A fixed timestamp, so that the same directory always zips to the same bytes (CDK does the same).
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class DeploymentError(RuntimeError):
    """The stack could not be deployed into the local AWS."""


def _zip_directory(directory: Path) -> bytes:
    """A directory asset zipped as CDK publishes it: every file, relative paths, sorted, modes kept."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if not path.is_file():
                continue
            info = zipfile.ZipInfo(path.relative_to(directory).as_posix(), _ZIP_DATE)
            info.external_attr = (path.stat().st_mode & 0xFFFF) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


@dataclass
class CloudAssemblyStack:
    """One stack of a cloud assembly (cdk.out): its template and its asset manifest."""

    name: str
    template_path: Path
    assets_path: Path | None

    @classmethod
    def load(cls, cdk_out: Path, stack_name: str) -> CloudAssemblyStack:
        manifest_path = cdk_out / "manifest.json"
        if not manifest_path.is_file():
            raise DeploymentError(f"{cdk_out} is not a cloud assembly (no manifest.json): synthesize first")
        artifacts: dict[str, Any] = json.loads(manifest_path.read_text())["artifacts"]
        stacks = {
            artifact.get("properties", {}).get("stackName", artifact_id): (artifact_id, artifact)
            for artifact_id, artifact in artifacts.items()
            if artifact.get("type") == "aws:cloudformation:stack"
        }
        if stack_name not in stacks:
            raise DeploymentError(f"no stack {stack_name!r} in {cdk_out}; it holds {sorted(stacks)}")
        _, artifact = stacks[stack_name]
        assets_path = None
        for dependency in artifact.get("dependencies", []):
            candidate = artifacts.get(dependency, {})
            if candidate.get("type") == "cdk:asset-manifest":
                assets_path = cdk_out / candidate["properties"]["file"]
        return cls(stack_name, cdk_out / artifact["properties"]["templateFile"], assets_path)


@dataclass
class LocalDeployment:
    """A stack deployed into the local AWS: its resources by logical id, its outputs, its event source pollers."""

    stack_name: str
    stack_id: str
    # Logical id -> physical id (what Ref returns: bucket name, queue URL, function name, state machine ARN, ...).
    resources: dict[str, str]
    resource_types: dict[str, str]
    # Logical id -> ARN, for the resources that have one.
    arns: dict[str, str]
    outputs: dict[str, str]
    # Logical id -> type, for the resources the local AWS only gave a physical id (policies, metadata, ...).
    placeholders: dict[str, str]
    pollers: list[SqsPoller] = field(default_factory=list)
    seconds: float = 0.0
    _sqs: Any = field(default=None, repr=False)

    def logical_id(self, prefix: str) -> str:
        """The logical id CDK made from a construct path, e.g. "InboxBucket" -> "InboxBucket1A2B3C4D"."""
        if prefix in self.resources:
            return prefix
        matches = [
            logical_id
            for logical_id in self.resources
            if logical_id.startswith(prefix) and len(logical_id) == len(prefix) + 8 and logical_id[-8:].isalnum()
        ]
        if len(matches) != 1:
            near = sorted(logical_id for logical_id in self.resources if logical_id.startswith(prefix))
            raise KeyError(f"{prefix!r} matches {matches or 'no'} logical id (starting with it: {near})")
        return matches[0]

    def physical_id(self, prefix: str) -> str:
        return self.resources[self.logical_id(prefix)]

    def arn(self, prefix: str) -> str:
        return self.arns[self.logical_id(prefix)]

    def wait_until_queues_drained(self, timeout: float = 30.0) -> None:
        """Until no queue read by an event source mapping holds a message, visible or in flight."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = 0
            for poller in self.pollers:
                attributes = self._sqs.get_queue_attributes(
                    QueueUrl=poller.mapping.queue_url,
                    AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
                )["Attributes"]
                remaining += sum(int(value) for value in attributes.values())
            if remaining == 0:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{remaining} message(s) still in the mapped queues after {timeout} s")
            time.sleep(0.05)

    def close(self) -> None:
        """Stops the event source pollers (the resources stay until the LocalAws closes)."""
        for poller in self.pollers:
            poller.stop()
        self.pollers.clear()


class LocalAws:
    """A moto server on 127.0.0.1 with Lambdas run in this process; deploys synthesized CDK stacks."""

    def __init__(
        self,
        *,
        region: str = DEFAULT_REGION,
        port: int = 0,
        start: bool = True,
        enforce_lambda_timeouts: bool = True,
        lambda_lock_timeout: float = 120.0,
        isolated_packages: tuple[str, ...] = (),
    ) -> None:
        self.region = region
        self.isolated_packages = isolated_packages
        self.port = port
        self.enforce_lambda_timeouts = enforce_lambda_timeouts
        self.lambda_lock_timeout = lambda_lock_timeout
        self.account_id = ""
        self.timings: dict[str, float] = {}
        self.deployments: list[LocalDeployment] = []
        self._server: ThreadedMotoServer | None = None
        self._glue: MotoGlue | None = None
        self._werkzeug_level: int | None = None
        if start:
            self.start()

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._server is not None:
            return
        started = time.monotonic()
        # werkzeug logs every request at INFO to stderr unless someone configured its logger.
        werkzeug = logging.getLogger("werkzeug")
        if werkzeug.level == logging.NOTSET:
            self._werkzeug_level = werkzeug.level
            werkzeug.setLevel(logging.WARNING)
        if not any(isinstance(f, _AbsentPathIsNoError) for f in _STEP_FUNCTIONS_EVALUATION.filters):
            _STEP_FUNCTIONS_EVALUATION.addFilter(_AbsentPathIsNoError())
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        server.start()
        self._server = server
        host, port = server.get_host_and_port()
        self.port = port
        glue = MotoGlue(
            f"http://{host}:{port}",
            enforce_lambda_timeouts=self.enforce_lambda_timeouts,
            lambda_lock_timeout=self.lambda_lock_timeout,
            isolated_packages=self.isolated_packages,
        )
        try:
            glue.install()
        except BaseException:
            server.stop()
            self._server = None
            raise
        self._glue = glue
        self.account_id = self.client("sts").get_caller_identity()["Account"]
        self.timings["server_start"] = time.monotonic() - started

    def close(self) -> None:
        """Stops the pollers, removes the patches, stops the server and forgets what was deployed."""
        for deployment in self.deployments:
            deployment.close()
        if self._glue is not None:
            self._glue.uninstall()
            self._glue = None
        if self._server is not None:
            self._server.stop()
            self._server = None
            # The next local AWS in this process (another test module) starts empty.
            reset_moto_state()
        if self._werkzeug_level is not None:
            logging.getLogger("werkzeug").setLevel(self._werkzeug_level)
            self._werkzeug_level = None

    def __enter__(self) -> LocalAws:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    # -- access --------------------------------------------------------------------------------------------------

    @property
    def glue(self) -> MotoGlue:
        if self._glue is None:
            raise RuntimeError("the local AWS is not running: call start()")
        return self._glue

    @property
    def endpoint_url(self) -> str:
        return self.glue.endpoint_url

    @property
    def invocations(self) -> list[InvocationResult]:
        """The in-process Lambda invocations so far, oldest first."""
        return list(self.glue.runtime.invocations)

    def client(self, service: str) -> Any:
        """A boto3 client of the local AWS."""
        return self.glue.client(service, self.region)

    def environment(self) -> dict[str, str]:
        """Variables that point boto3 (or the AWS CLI) in another process at the local AWS."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            **DUMMY_CREDENTIALS,
        }

    # -- deployment ----------------------------------------------------------------------------------------------

    def deploy(
        self,
        cdk_out: Path,
        stack_name: str,
        *,
        parameters: Mapping[str, str] | None = None,
        timeout: float = 120.0,
    ) -> LocalDeployment:
        """Deploys one stack of a synthesized app (cdk.out) and starts its SQS event source pollers."""
        started = time.monotonic()
        stack = CloudAssemblyStack.load(Path(cdk_out), stack_name)
        template_body = stack.template_path.read_text()
        template: dict[str, Any] = json.loads(template_body)
        self._bootstrap(template)
        if stack.assets_path is not None:
            self._publish_assets(stack.assets_path)
        cloudformation = self.client("cloudformation")
        try:
            stack_id = cloudformation.create_stack(
                StackName=stack_name,
                TemplateBody=template_body,
                Capabilities=_CAPABILITIES,
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()],
            )["StackId"]
        except ClientError as error:
            # A custom resource that failed leaves the resources that refer to it unresolvable: its reason says why.
            failures = "; ".join(f"{f.logical_id}: {f.reason}" for f in self.glue.custom_resource_failures)
            if failures:
                raise DeploymentError(f"stack {stack_name}: custom resource failed: {failures}") from error
            raise
        description = self._wait_for_stack(stack_id, started + timeout)
        summaries = cloudformation.describe_stack_resources(StackName=stack_id)["StackResources"]
        # A resource whose condition is false is listed without a logical id: it does not exist.
        created = [s for s in summaries if s.get("LogicalResourceId")]
        resources = {s["LogicalResourceId"]: s.get("PhysicalResourceId", "") for s in created}
        types = {s["LogicalResourceId"]: s["ResourceType"] for s in created}
        deployment = LocalDeployment(
            stack_name=stack_name,
            stack_id=stack_id,
            resources=resources,
            resource_types=types,
            arns=self._arns(resources, types),
            outputs={o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])},
            placeholders=dict(self.glue.placeholders.get(stack_id, {})),
            _sqs=self.client("sqs"),
        )
        self.deployments.append(deployment)
        try:
            self._start_pollers(deployment)
        except BaseException:
            deployment.close()
            raise
        deployment.seconds = time.monotonic() - started
        return deployment

    def _substitute(self, text: str) -> str:
        return (
            text.replace("${AWS::AccountId}", self.account_id)
            .replace("${AWS::Region}", self.region)
            .replace("${AWS::Partition}", "aws")
        )

    def _bootstrap(self, template: Mapping[str, Any]) -> None:
        """The SSM parameter CDK templates read their bootstrap version from (what `cdk bootstrap` creates)."""
        parameter = template.get("Parameters", {}).get("BootstrapVersion", {})
        name = parameter.get("Default")
        if parameter.get("Type", "").startswith("AWS::SSM::Parameter") and name:
            self.client("ssm").put_parameter(Name=name, Value=BOOTSTRAP_VERSION, Type="String", Overwrite=True)

    def _publish_assets(self, assets_path: Path) -> None:
        """Uploads the file assets to the buckets of the asset manifest, creating them as `cdk bootstrap` would."""
        manifest: dict[str, Any] = json.loads(assets_path.read_text())
        if manifest.get("dockerImages"):
            raise DeploymentError(f"{assets_path}: Docker image assets cannot be deployed locally")
        s3 = self.client("s3")
        buckets: set[str] = set()
        for asset_hash, asset in manifest.get("files", {}).items():
            source = asset["source"]
            path = assets_path.parent / source["path"]
            if source.get("packaging") == "zip":
                body = _zip_directory(path) if path.is_dir() else path.read_bytes()
            else:
                body = path.read_bytes()
            for destination in asset["destinations"].values():
                bucket = self._substitute(destination["bucketName"])
                if bucket not in buckets:
                    # Outside us-east-1, S3 wants the region as the bucket's location constraint.
                    where = {} if self.region == "us-east-1" else {"LocationConstraint": self.region}
                    try:
                        s3.create_bucket(Bucket=bucket, **({"CreateBucketConfiguration": where} if where else {}))
                    except ClientError as error:
                        if error.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                            raise
                    buckets.add(bucket)
                s3.put_object(Bucket=bucket, Key=self._substitute(destination["objectKey"]), Body=body)
                log.debug("asset %s uploaded to s3://%s", asset_hash[:12], bucket)

    def _wait_for_stack(self, stack_id: str, deadline: float) -> dict[str, Any]:
        cloudformation = self.client("cloudformation")
        while True:
            description: dict[str, Any] = cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]
            status = description["StackStatus"]
            failures = [f for f in self.glue.custom_resource_failures if f.stack_id == stack_id]
            if failures:
                reasons = "; ".join(f"{f.logical_id}: {f.reason}" for f in failures)
                raise DeploymentError(f"stack {description['StackName']}: custom resource failed: {reasons}")
            if status in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
                return description
            if "FAILED" in status or "ROLLBACK" in status:
                raise DeploymentError(
                    f"stack {description['StackName']}: {status} {description.get('StackStatusReason')}"
                )
            if time.monotonic() > deadline:
                errors = [r.payload.decode(errors="replace")[:300] for r in self.invocations if r.function_error]
                raise DeploymentError(
                    f"stack {description['StackName']} still {status} (a custom resource never answered?); "
                    f"failed Lambda invocations: {errors[-3:] or 'none'}"
                )
            time.sleep(0.05)

    def _arns(self, resources: Mapping[str, str], types: Mapping[str, str]) -> dict[str, str]:
        arns = {}
        for logical_id, physical_id in resources.items():
            try:
                arn = self._arn(types[logical_id], physical_id)
            except ClientError:
                arn = None
            if arn:
                arns[logical_id] = arn
        return arns

    def _arn(self, resource_type: str, physical_id: str) -> str | None:
        if physical_id.startswith("arn:"):
            return physical_id
        region, account = self.region, self.account_id
        if resource_type == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{physical_id}"
        if resource_type == "AWS::SQS::Queue":
            attributes = self.client("sqs").get_queue_attributes(QueueUrl=physical_id, AttributeNames=["QueueArn"])
            return str(attributes["Attributes"]["QueueArn"])
        if resource_type == "AWS::Lambda::Function":
            return str(self.client("lambda").get_function(FunctionName=physical_id)["Configuration"]["FunctionArn"])
        if resource_type == "AWS::DynamoDB::Table":
            return str(self.client("dynamodb").describe_table(TableName=physical_id)["Table"]["TableArn"])
        if resource_type == "AWS::IAM::Role":
            return str(self.client("iam").get_role(RoleName=physical_id)["Role"]["Arn"])
        if resource_type == "AWS::Lambda::EventSourceMapping":
            mapping = self.client("lambda").get_event_source_mapping(UUID=physical_id)
            return str(mapping["EventSourceMappingArn"])
        if resource_type == "AWS::Logs::LogGroup":
            return f"arn:aws:logs:{region}:{account}:log-group:{physical_id}:*"
        if resource_type == "AWS::CloudWatch::Alarm":
            return f"arn:aws:cloudwatch:{region}:{account}:alarm:{physical_id}"
        return None

    def _start_pollers(self, deployment: LocalDeployment) -> None:
        """One poller per SQS event source mapping of the stack, added to the deployment as it starts."""
        lambda_client = self.client("lambda")
        sqs = self.client("sqs")
        for logical_id, physical_id in deployment.resources.items():
            if deployment.resource_types[logical_id] != "AWS::Lambda::EventSourceMapping":
                continue
            mapping = lambda_client.get_event_source_mapping(UUID=physical_id)
            queue_arn = str(mapping["EventSourceArn"])
            if queue_arn.split(":")[2] != "sqs":
                log.warning("event source mapping %s reads %s: only SQS is polled locally", logical_id, queue_arn)
                continue
            _, _, _, _, owner, queue_name = queue_arn.split(":")
            queue_url = sqs.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=owner)["QueueUrl"]
            visibility = int(
                sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"])["Attributes"][
                    "VisibilityTimeout"
                ]
            )
            function_timeout = int(
                lambda_client.get_function_configuration(FunctionName=mapping["FunctionArn"])["Timeout"]
            )
            if visibility < function_timeout:
                # CreateEventSourceMapping refuses this in AWS; moto accepts it.
                raise DeploymentError(
                    f"{logical_id}: queue visibility timeout {visibility} s is less than the function timeout "
                    f"{function_timeout} s"
                )
            try:
                config = SqsEventSourceMapping.from_api(mapping, queue_url)
            except NotImplementedError as error:
                raise DeploymentError(str(error)) from error
            # A long invocation must not time the client out, and a retried Invoke would run the batch twice.
            invoke_config = Config(
                read_timeout=function_timeout + self.lambda_lock_timeout + 30, retries={"total_max_attempts": 1}
            )
            poller = SqsPoller(
                config,
                sqs=self.client("sqs"),
                lambda_client=self.glue.client("lambda", self.region, config=invoke_config),
                region=self.region,
            )
            deployment.pollers.append(poller)
            poller.start()
