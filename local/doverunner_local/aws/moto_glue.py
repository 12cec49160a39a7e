"""Every patch and workaround moto needs to run a CDK stack locally, in one place. Pinned to moto==5.2.5.

Most patches replace private moto internals. `check_moto_internals()` verifies that each of them still exists
with the signature (and, where the patch relies on it, the code) it had in the pinned version, and raises
`MotoGlueError` naming the installed moto version otherwise. `MotoGlue.install()` runs that check first.

Patches (each `_patch_*` method says why, in a line):
- Lambda invocation runs the handler in this process (`lambda_runtime`), instead of in Docker.
- Lambda `InvocationType=Event`, S3 -> Lambda and SNS -> Lambda deliveries run on a thread, as in AWS (moto runs
  them inside the caller's request, which deadlocks when a handler publishes to a topic another function is
  subscribed to).
- SNS -> Lambda events carry the real topic, subscription, message id and attributes (moto sends fixed values).
- S3 event records are shaped as AWS's: the new version's id, a sequencer, the requester, the request ids, the bucket
  owner, and the key form-encoded with its slashes kept (moto sends none of these, and encodes the slashes); and a
  request notifies its own event only (moto adds ObjectCreated:Put to CompleteMultipartUpload, and ObjectTagging:Put
  to PutObject, CompleteMultipartUpload and a CopyObject that replaces the tags).
- Ref on a layer version is its ARN (moto returns its Python object).
- SQS event source mappings are polled by `event_sources.SqsPoller`, not delivered inline by moto.
- CloudFormation: custom resources get string-typed properties and can report failure; state machines land in
  the Step Functions backend that executes them; AWS::SNS::Subscription, AWS::SecretsManager::Secret and
  AWS::CloudWatch::Alarm are created; any other type moto does not know becomes a placeholder with a physical id
  (so that Ref and GetAtt on it still resolve) and is listed in `MotoGlue.placeholders`.
- Settings: custom-resource responses go to 127.0.0.1 and to the right port; Step Functions executes.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib
import inspect
import json
import logging
import os
import secrets
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import moto
from botocore.config import Config

from doverunner_local.aws.lambda_runtime import (
    DUMMY_CREDENTIALS,
    FunctionSpec,
    InProcessLambdaRuntime,
    InvocationResult,
)

log = logging.getLogger("doverunner_local.aws.glue")

PINNED_MOTO_VERSION = "5.2.5"


class MotoGlueError(RuntimeError):
    """moto's internals are not what this glue was written against."""


@dataclass(frozen=True)
class _Expectation:
    """A private moto object a patch relies on: where it is, its parameters, and code it must still contain."""

    target: str
    parameters: tuple[str, ...] | None = None
    mentions: tuple[str, ...] = ()
    # The patch adds this attribute; once moto has it, the patch is obsolete.
    absent: bool = False


_EXPECTATIONS = (
    _Expectation("moto.settings:moto_server_host", ()),
    _Expectation("moto.settings:moto_server_port", (), ("MOTO_PORT",)),
    _Expectation("moto.core.config:default_user_config"),
    _Expectation("moto.stepfunctions.responses:get_backend", ("account", "region"), ("execute_state_machine",)),
    _Expectation("moto.stepfunctions.models:stepfunctions_backends"),
    _Expectation(
        "moto.stepfunctions.models:StateMachine.create_from_cloudformation_json",
        ("resource_name", "cloudformation_json", "account_id", "region_name", "kwargs"),
        ("stepfunctions_backends[account_id][region_name]",),
    ),
    _Expectation("moto.stepfunctions.parser.models:stepfunctions_parser_backends"),
    _Expectation("moto.stepfunctions.parser.asl.utils.boto_client:boto_client_for", None, ("moto_server_port()",)),
    _Expectation(
        "moto.awslambda.models:LambdaFunction.invoke", ("self", "body", "request_headers", "response_headers")
    ),
    _Expectation(
        "moto.awslambda.models:LambdaFunction.__init__",
        ("self", "account_id", "spec", "region", "version"),
        (
            "self.function_name =",
            "self.handler =",
            "self.run_time =",
            "self.environment_vars =",
            "self.memory_size =",
            "self.timeout =",
            "self.logs_group_name =",
            "self.logs_backend =",
            "self.function_arn",
            "self.version =",
        ),
    ),
    _Expectation("moto.awslambda.models:LambdaFunction._set_function_code", None, ("self.code_bytes,",)),
    _Expectation("moto.awslambda.models:LambdaFunction.save_logs", ("self", "output")),
    _Expectation("moto.awslambda.models:LayerVersion.arn"),
    _Expectation("moto.awslambda.models:LayerVersion.physical_resource_id", absent=True),
    _Expectation(
        "moto.awslambda.models:LambdaBackend.create_event_source_mapping",
        ("self", "spec"),
        ("queue.lambda_event_source_mappings[esm.function_arn] = esm",),
    ),
    _Expectation("moto.awslambda.models:LambdaBackend.get_function", ("self", "function_name_or_arn", "qualifier")),
    _Expectation(
        "moto.awslambda.models:LambdaBackend.send_sns_message",
        ("self", "function_name", "message", "subject", "qualifier"),
    ),
    _Expectation("moto.sqs.models:Queue.add_message", ("self", "message"), ("self.lambda_event_source_mappings",)),
    _Expectation(
        "moto.sns.models:Subscription.publish",
        (
            "self",
            "message",
            "message_id",
            "subject",
            "message_attributes",
            "group_id",
            "deduplication_id",
            "message_structure",
        ),
        ("send_sns_message(",),
    ),
    _Expectation(
        "moto.s3.notifications:_invoke_awslambda", ("account_id", "event_body", "fn_arn", "region_name"), ("invoke(",)
    ),
    _Expectation(
        "moto.s3.notifications:send_event",
        ("account_id", "event_name", "bucket", "key"),
        (
            "_get_s3_event(event_name, bucket, key, notification.id)",
            "_invoke_awslambda(",
            "_send_sqs_message(",
            "_send_sns_message(",
        ),
    ),
    _Expectation("moto.s3.notifications:_get_s3_event", ("event_name", "bucket", "key", "notification_id")),
    # The models send every event through the module attribute, which the glue replaces.
    _Expectation("moto.s3.models:notifications"),
    _Expectation(
        "moto.s3.models:S3Backend.put_object", None, ("notifications.send_event(", 'if bucket.is_versioned else "null"')
    ),
    _Expectation("moto.s3.models:S3Backend.copy_object", None, ("notifications.send_event(",)),
    _Expectation("moto.s3.models:S3Backend.put_object_tagging", None, ("notifications.send_event(",)),
    _Expectation(
        "moto.s3.models:S3Backend.complete_multipart_upload",
        ("self", "bucket_name", "multipart_id", "body"),
        ("self.put_object(", "self.put_object_tagging(", "OBJECT_CREATED_COMPLETE_MULTIPART_UPLOAD_EVENT"),
    ),
    _Expectation("moto.s3.responses:S3Response.put_object", ("self",), ("self.backend.put_object_tagging(",)),
    _Expectation("moto.s3.responses:S3Response.copy_object", ("self",), ("self.backend.copy_object(",)),
    _Expectation("moto.s3.models:FakeKey.version_id"),
    _Expectation("moto.s3.models:FakeKey.etag"),
    _Expectation("moto.s3.models:FakeKey.size"),
    _Expectation("moto.s3.models:FakeDeleteMarker.version_id"),
    _Expectation("moto.s3.models:FakeBucket.arn"),
    _Expectation(
        "moto.cloudformation.custom_model:CustomModel.create_from_cloudformation_json",
        ("resource_name", "cloudformation_json", "account_id", "region_name", "kwargs"),
        ("settings.moto_server_host()", "settings.moto_server_port()", '"ResourceProperties": properties'),
    ),
    _Expectation(
        "moto.cloudformation.responses:CloudFormationResponse.process_cfn_response",
        ("self",),
        ('"SUCCESS"', "stack.get_custom_resource(", "set_data(outputs)", "stack.verify_readiness()"),
    ),
    _Expectation("moto.cloudformation.models:Stack.get_custom_resource", None, ("self.custom_resources[",)),
    _Expectation("moto.cloudformation.models:Stack.verify_readiness", ("self",), ("creation_complete()",)),
    _Expectation("moto.cloudformation.custom_model:CustomModel.set_data", ("self", "data")),
    _Expectation("moto.cloudformation.models:cloudformation_backends"),
    _Expectation("moto.cloudformation.parsing:resource_class_from_type", ("resource_type",)),
    _Expectation(
        "moto.s3.models:FakeBucket.create_from_cloudformation_json",
        ("resource_name", "cloudformation_json", "account_id", "region_name", "kwargs"),
    ),
    _Expectation("moto.s3.models:FakeBucket.__init__", None, ("self.versioning_status",)),
    _Expectation("moto.cloudformation.parsing:parse_resource", None, ("resource_class_from_type(",)),
    _Expectation("moto.cloudformation.parsing:NULL_MODELS"),
    _Expectation("moto.moto_api._internal.models:moto_api_backend"),
    _Expectation("moto.moto_api._internal.models:MotoAPIBackend.reset", ("self",), ("BackendDict.reset()",)),
    _Expectation(
        "moto.wafv2.models:WAFV2Backend.update_web_acl",
        (
            "self",
            "name",
            "_id",
            "default_action",
            "rules",
            "description",
            "visibility_config",
            "lock_token",
            "custom_response_bodies",
            "captcha_config",
            "challenge_config",
            "token_domains",
            "association_config",
        ),
        ("if rules", "self.get_web_acl(None, name, _id)"),
    ),
)


def _resolve(target: str) -> Any:
    module_name, _, path = target.partition(":")
    value: Any = importlib.import_module(module_name)
    for part in path.split("."):
        value = getattr(value, part)
    return value


def _expectation_problem(expectation: _Expectation) -> str | None:
    try:
        value = _resolve(expectation.target)
    except (ImportError, AttributeError) as error:
        return None if expectation.absent else f"{expectation.target}: missing ({error})"
    if expectation.absent:
        return None if _is_glue(value) else f"{expectation.target}: moto has it now; the patch adding it is obsolete"
    if expectation.parameters is not None:
        try:
            parameters = tuple(inspect.signature(value).parameters)
        except (TypeError, ValueError) as error:
            return f"{expectation.target}: no signature ({error})"
        if parameters != expectation.parameters:
            return f"{expectation.target}: parameters are {parameters}, expected {expectation.parameters}"
    if expectation.mentions:
        try:
            source = inspect.getsource(value)
        except (OSError, TypeError) as error:
            return f"{expectation.target}: no source ({error})"
        missing = [text for text in expectation.mentions if text not in source]
        if missing:
            return f"{expectation.target}: code no longer contains {missing}"
    return None


def _is_glue(value: Any) -> bool:
    """Whether value is one of this module's replacements (the checker may run while the glue is installed)."""
    function = value.fget if isinstance(value, property) else value
    return getattr(function, "__module__", None) == __name__


def reset_moto_state() -> None:
    """Forgets every resource moto holds: its backends are process-global, so without this a second local AWS in
    the same process would find the first one's stack (CreateStack: AlreadyExists)."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


def check_moto_internals() -> None:
    """Raises MotoGlueError, naming moto's version, if anything the patches rely on has changed."""
    problems = [problem for e in _EXPECTATIONS if (problem := _expectation_problem(e))]
    installed = moto.__version__
    if installed != PINNED_MOTO_VERSION:
        problems.insert(0, f"moto {installed} is installed; the glue was verified against {PINNED_MOTO_VERSION}")
    if problems:
        raise MotoGlueError(
            f"moto {installed}: the local AWS glue (doverunner_local/aws/moto_glue.py) no longer matches moto's "
            f"internals; re-verify each patch against moto {installed}, then update PINNED_MOTO_VERSION:\n  - "
            + "\n  - ".join(problems)
        )


@dataclass(frozen=True)
class CustomResourceFailure:
    stack_id: str
    logical_id: str
    reason: str


_MISSING = object()
_active_lock = threading.Lock()
_active: MotoGlue | None = None


def _glue() -> MotoGlue:
    if _active is None:
        raise MotoGlueError("the moto glue is not installed")
    return _active


def _cloudformation_strings(value: Any) -> Any:
    """What CloudFormation does to custom-resource properties: every scalar becomes a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return {key: _cloudformation_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_cloudformation_strings(item) for item in value]
    return value


def _api_string(value: Any) -> str:
    """A CloudFormation property value as the matching API attribute (strings; objects as JSON)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


class _LocalResource:
    """CloudFormation model interface moto's parser expects; not a CloudFormationModel subclass, on purpose:
    subclasses register themselves in moto for good, while these exist only while the glue is installed."""

    cf_resource_type: str
    logical_resource_id: str
    attributes: tuple[str, ...] = ()

    def __init__(self, physical_id: str, attributes: Mapping[str, str]) -> None:
        self._physical_id = physical_id
        self._attributes = dict(attributes)

    @property
    def physical_resource_id(self) -> str:
        return self._physical_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return not cls.attributes or attr in cls.attributes

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        return self._attributes.get(attribute_name, self._physical_id)

    def is_created(self) -> bool:
        return True

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> _LocalResource:
        cls.delete_from_cloudformation_json(
            original_resource.physical_resource_id, cloudformation_json, account_id, region_name
        )
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> _LocalResource:
        raise NotImplementedError

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        pass


class _SnsSubscription(_LocalResource):
    """AWS::SNS::Subscription, which moto's CloudFormation skips. Ref: the subscription ARN."""

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> _LocalResource:
        properties = cloudformation_json["Properties"]
        names = ("RawMessageDelivery", "FilterPolicy", "FilterPolicyScope", "RedrivePolicy", "DeliveryPolicy")
        attributes = {name: _api_string(properties[name]) for name in names if name in properties}
        response = (
            _glue()
            .client("sns", region_name)
            .subscribe(
                TopicArn=properties["TopicArn"],
                Protocol=properties["Protocol"],
                Endpoint=properties["Endpoint"],
                Attributes=attributes,
                ReturnSubscriptionArn=True,
            )
        )
        return cls(response["SubscriptionArn"], {})

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        _glue().client("sns", region_name).unsubscribe(SubscriptionArn=resource_name)


class _Secret(_LocalResource):
    """AWS::SecretsManager::Secret, unknown to moto's CloudFormation. Ref: the secret's ARN."""

    attributes = ("Id",)

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> _LocalResource:
        properties = cloudformation_json["Properties"]
        client = _glue().client("secretsmanager", region_name)
        secret_string = properties.get("SecretString")
        generate = properties.get("GenerateSecretString")
        if secret_string is None and generate is not None:
            options = {
                name: generate[name]
                for name in (
                    "PasswordLength",
                    "ExcludeCharacters",
                    "ExcludeNumbers",
                    "ExcludePunctuation",
                    "ExcludeUppercase",
                    "ExcludeLowercase",
                    "IncludeSpace",
                    "RequireEachIncludedType",
                )
                if name in generate
            }
            password = client.get_random_password(**options)["RandomPassword"]
            if "SecretStringTemplate" in generate:
                document = json.loads(generate["SecretStringTemplate"])
                document[generate["GenerateStringKey"]] = password
                secret_string = json.dumps(document)
            else:
                secret_string = password
        request: dict[str, Any] = {"Name": properties.get("Name") or resource_name}
        if secret_string is not None:
            request["SecretString"] = secret_string
        for name in ("Description", "KmsKeyId", "Tags"):
            if name in properties:
                request[name] = properties[name]
        arn = client.create_secret(**request)["ARN"]
        return cls(arn, {"Id": arn})

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        client = _glue().client("secretsmanager", region_name)
        client.delete_secret(SecretId=resource_name, ForceDeleteWithoutRecovery=True)


class _Alarm(_LocalResource):
    """AWS::CloudWatch::Alarm, unknown to moto's CloudFormation (a dashboard's GetAtt on it would fail).
    Ref: the alarm name."""

    attributes = ("Arn",)
    _API_FIELDS = (
        "AlarmDescription",
        "ActionsEnabled",
        "OKActions",
        "AlarmActions",
        "InsufficientDataActions",
        "MetricName",
        "Namespace",
        "Statistic",
        "ExtendedStatistic",
        "Dimensions",
        "Period",
        "Unit",
        "EvaluationPeriods",
        "DatapointsToAlarm",
        "Threshold",
        "ComparisonOperator",
        "TreatMissingData",
        "EvaluateLowSampleCountPercentile",
        "Metrics",
        "ThresholdMetricId",
    )

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> _LocalResource:
        properties = cloudformation_json["Properties"]
        name = properties.get("AlarmName") or resource_name
        request = {field: properties[field] for field in cls._API_FIELDS if field in properties}
        for number in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
            if number in request:
                request[number] = int(request[number])
        if "Threshold" in request:
            request["Threshold"] = float(request["Threshold"])
        _glue().client("cloudwatch", region_name).put_metric_alarm(AlarmName=name, **request)
        arn = f"arn:aws:cloudwatch:{region_name}:{account_id}:alarm:{name}"
        return cls(name, {"Arn": arn})

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        _glue().client("cloudwatch", region_name).delete_alarms(AlarmNames=[resource_name])


class _Placeholder(_LocalResource):
    """Any other type moto does not know (bucket, queue and topic policies, CDK metadata, ...): nothing is created,
    but Ref and GetAtt resolve, so that the resources that refer to it can still be created."""

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> _LocalResource:
        resource_type = str(kwargs.get("ResourceType", ""))
        service = resource_type.split("::")[1].lower() if resource_type.count("::") == 2 else "unknown"
        _glue().note_placeholder(str(kwargs.get("StackId", "")), str(kwargs.get("LogicalId", "")), resource_type)
        return cls(resource_name, {"Arn": f"arn:aws:{service}:{region_name}:{account_id}:{resource_name}"})


class _WebAcl(_LocalResource):
    """AWS::WAFv2::WebACL, unknown to moto's CloudFormation. Ref: name|id|scope; GetAtt Arn, Id."""

    attributes = ("Arn", "Id", "Capacity", "LabelNamespace")

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> _LocalResource:
        properties = cloudformation_json["Properties"]
        name = properties.get("Name") or resource_name
        request: dict[str, Any] = {
            "Name": name,
            "Scope": properties["Scope"],
            "DefaultAction": properties["DefaultAction"],
            "VisibilityConfig": properties["VisibilityConfig"],
            "Rules": properties.get("Rules", []),
        }
        if properties.get("Description"):
            request["Description"] = properties["Description"]
        # CloudFront-scope web ACLs are managed in us-east-1, whatever the stack's region.
        region = "us-east-1" if properties["Scope"] == "CLOUDFRONT" else region_name
        client = _glue().client("wafv2", region)
        summary = client.create_web_acl(**request)["Summary"]
        attributes = {"Arn": summary["ARN"], "Id": summary["Id"], "Capacity": "0", "LabelNamespace": ""}
        return cls(f"{name}|{summary['Id']}|{properties['Scope']}", attributes)


CUSTOM_RESOURCE_WAIT_SECONDS = 60.0

_LOCAL_MODELS: dict[str, type[_LocalResource]] = {
    "AWS::WAFv2::WebACL": _WebAcl,
    "AWS::SNS::Subscription": _SnsSubscription,
    "AWS::SecretsManager::Secret": _Secret,
    "AWS::CloudWatch::Alarm": _Alarm,
}


class MotoGlue:
    """The patches, installed for one local AWS at a time (moto's backends are process-global anyway)."""

    def __init__(
        self,
        endpoint_url: str,
        *,
        enforce_lambda_timeouts: bool = True,
        lambda_lock_timeout: float = 120.0,
        isolated_packages: Iterable[str] = (),
    ) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        self.runtime = InProcessLambdaRuntime(
            self.endpoint_url,
            enforce_timeouts=enforce_lambda_timeouts,
            lock_timeout=lambda_lock_timeout,
            isolated_packages=isolated_packages,
        )
        self.custom_resource_failures: list[CustomResourceFailure] = []
        # Custom-resource answers, which a resource's creation waits for.
        self._answers = threading.Condition()
        # stack id -> logical id -> resource type, for resources that were only given a physical id.
        self.placeholders: dict[str, dict[str, str]] = {}
        self.warnings: list[str] = []
        self._restore: list[Callable[[], None]] = []
        self._threads: set[threading.Thread] = set()
        self._threads_lock = threading.Lock()
        self._sns_delivery = threading.local()
        # The S3 request being served on this thread: the event it notifies (`only`) and its ids (`event`).
        self._s3_request = threading.local()
        # Its own session: boto3's default one is swapped per function while a handler runs.
        self._session = boto3.session.Session()
        self._session_lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def install(self) -> None:
        global _active
        check_moto_internals()
        with _active_lock:
            if _active is not None:
                raise MotoGlueError("another local AWS is running in this process (moto's state is process-global)")
            _active = self
        try:
            self._patch_settings()
            self._patch_step_functions()
            self._patch_lambda()
            self._patch_sns_to_lambda()
            self._patch_s3_notifications()
            self._patch_cloudformation()
            self._patch_wafv2()
        except BaseException:
            self.uninstall()
            raise

    def uninstall(self) -> None:
        global _active
        with self._threads_lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=30)
        while self._restore:
            self._restore.pop()()
        self.runtime.close()
        with _active_lock:
            if _active is self:
                _active = None

    def client(self, service: str, region: str, *, config: Config | None = None) -> Any:
        """A boto3 client of the local AWS with explicit endpoint, region and keys: whatever the environment says."""
        # Local calls are not throttled; a retried request (e.g. CreateStack, Invoke) would run twice.
        defaults = Config(retries={"total_max_attempts": 1})
        with self._session_lock:
            return self._session.client(
                service,
                region_name=region,
                endpoint_url=self.endpoint_url,
                aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                aws_session_token=DUMMY_CREDENTIALS["AWS_SESSION_TOKEN"],
                config=defaults.merge(config) if config else defaults,
            )

    def failed(self, stack_id: str, logical_id: str) -> bool:
        """Whether the custom resource answered FAILED."""
        return any(f.stack_id == stack_id and f.logical_id == logical_id for f in self.custom_resource_failures)

    def note_placeholder(self, stack_id: str, logical_id: str, resource_type: str) -> None:
        self.placeholders.setdefault(stack_id, {})[logical_id] = resource_type

    def dispatch(self, target: Callable[[], object], name: str) -> None:
        """Runs an asynchronous delivery on its own thread; uninstall() waits for it."""

        def run() -> None:
            try:
                target()
            except Exception:
                log.exception("asynchronous delivery %s failed", name)
            finally:
                with self._threads_lock:
                    self._threads.discard(threading.current_thread())

        thread = threading.Thread(target=run, name=name, daemon=True)
        with self._threads_lock:
            self._threads.add(thread)
        thread.start()

    # -- patch helpers -------------------------------------------------------------------------------------------

    def _set(self, owner: Any, name: str, value: Any) -> None:
        original = vars(owner).get(name, _MISSING)

        def restore() -> None:
            if original is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, original)

        setattr(owner, name, value)
        self._restore.append(restore)

    def _set_environ(self, name: str, value: str) -> None:
        original = os.environ.get(name)

        def restore() -> None:
            if original is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = original

        os.environ[name] = value
        self._restore.append(restore)

    # -- the patches ---------------------------------------------------------------------------------------------

    def _patch_settings(self) -> None:
        import moto.settings

        # This machine has /.dockerenv, so moto would send custom-resource responses to host.docker.internal.
        self._set(moto.settings, "moto_server_host", lambda: "http://127.0.0.1")
        # Custom-resource response URLs and Step Functions' Lambda client use MOTO_PORT (default 5000).
        port = self.endpoint_url.rsplit(":", 1)[1]
        self._set_environ("MOTO_PORT", port)

    def _patch_step_functions(self) -> None:
        import moto.stepfunctions.models
        from moto.core.config import default_user_config
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        # Without this, Step Functions stores state machines but never runs them.
        original = default_user_config.get("stepfunctions")
        default_user_config["stepfunctions"] = {"execute_state_machine": True}

        def restore() -> None:
            if original is None:
                default_user_config.pop("stepfunctions", None)
            else:
                default_user_config["stepfunctions"] = original

        self._restore.append(restore)
        # CloudFormation creates state machines in the plain backend, which the API does not use once executing.
        self._set(moto.stepfunctions.models, "stepfunctions_backends", stepfunctions_parser_backends)

    def _patch_lambda(self) -> None:
        from moto.awslambda.models import LambdaBackend, LambdaFunction, LayerVersion
        from moto.sqs.models import sqs_backends

        glue = self
        original_invoke = LambdaFunction.invoke

        # moto runs handlers only in Docker; run them in this process instead.
        @functools.wraps(original_invoke)
        def invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> str | bytes:
            event = _event_from_body(body)
            invocation_type = request_headers.get("x-amz-invocation-type", "RequestResponse")
            if invocation_type == "DryRun":
                return b""
            if invocation_type == "Event":
                # Asynchronous in AWS: the caller gets 202 at once.
                glue.dispatch(lambda: glue.run_function(self, event), f"lambda-event-{self.function_name}")
                return b""
            result = glue.run_function(self, event)
            if result.function_error:
                response_headers["x-amz-function-error"] = "Unhandled"
            response_headers["x-amz-log-result"] = result.log_tail
            return result.payload

        self._set(LambdaFunction, "invoke", invoke)

        original_create_esm = LambdaBackend.create_event_source_mapping

        # moto invokes an SQS-mapped function inside SendMessage, one message at a time: the harness polls instead.
        @functools.wraps(original_create_esm)
        def create_event_source_mapping(self: Any, spec: dict[str, Any]) -> Any:
            mapping = original_create_esm(self, spec)
            for queue in sqs_backends[self.account_id][self.region_name].queues.values():
                if queue.queue_arn == mapping.event_source_arn:
                    queue.lambda_event_source_mappings.pop(mapping.function_arn, None)
            return mapping

        self._set(LambdaBackend, "create_event_source_mapping", create_event_source_mapping)

        # Without it, Ref on an AWS::Lambda::LayerVersion resolves to moto's Python object instead of the ARN.
        self._set(LayerVersion, "physical_resource_id", property(_layer_version_arn))

    def _patch_sns_to_lambda(self) -> None:
        from moto.awslambda.models import LambdaBackend
        from moto.sns.models import Subscription

        glue = self
        original_publish = Subscription.publish
        delivery = self._sns_delivery

        # Remember which subscription and message moto is delivering, for the Lambda event below.
        @functools.wraps(original_publish)
        def publish(self: Any, message: str, message_id: str, *args: Any, **kwargs: Any) -> None:
            attributes = kwargs.get("message_attributes", args[1] if len(args) > 1 else None)
            delivery.current = (self, message_id, attributes or {})
            try:
                original_publish(self, message, message_id, *args, **kwargs)
            finally:
                delivery.current = None

        original_send = LambdaBackend.send_sns_message

        # moto's event has a fixed topic ARN, message id and attributes, and runs inside Publish; AWS delivers the
        # real ones, asynchronously.
        @functools.wraps(original_send)
        def send_sns_message(
            self: Any, function_name: str, message: str, subject: str | None = None, qualifier: str | None = None
        ) -> None:
            subscription, message_id, attributes = getattr(delivery, "current", None) or (None, "", {})
            function = self.get_function(function_name, qualifier)
            record = {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription.arn if subscription else "",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": subscription.topic.arn if subscription else "",
                    "Subject": subject,
                    "Message": message,
                    "Timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": "EXAMPLE",
                    "UnsubscribeUrl": "EXAMPLE",
                    "MessageAttributes": {
                        name: {"Type": value.get("Type"), "Value": value.get("Value")}
                        for name, value in attributes.items()
                    },
                },
            }
            event = {"Records": [record]}
            glue.dispatch(lambda: glue.run_function(function, event), f"sns-{function_name}")

        self._set(Subscription, "publish", publish)
        self._set(LambdaBackend, "send_sns_message", send_sns_message)

    def _patch_s3_notifications(self) -> None:
        import moto.s3.notifications

        glue = self
        original = moto.s3.notifications._invoke_awslambda

        # S3 invokes functions asynchronously; moto does it inside PutObject.
        @functools.wraps(original)
        def invoke_awslambda(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
            glue.dispatch(lambda: original(account_id, event_body, fn_arn, region_name), "s3-lambda")

        self._set(moto.s3.notifications, "_invoke_awslambda", invoke_awslambda)

        from moto.s3.models import S3Backend
        from moto.s3.notifications import S3NotificationEvent
        from moto.s3.responses import S3Response

        original_send = moto.s3.notifications.send_event
        request = self._s3_request

        # One event is one request in AWS: its records (one per matching configuration, whatever the destination)
        # share the time, sequencer and request ids. And a request notifies its own event only.
        @functools.wraps(original_send)
        def send_event(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
            only = getattr(request, "only", None)
            if only is not None and event_name != only:
                log.debug("S3 %s on %s/%s not notified: the request is %s", event_name, bucket.name, key.name, only)
                return
            request.event = _S3Event.new(bucket.arn)
            try:
                original_send(account_id, event_name, bucket, key)
            finally:
                request.event = None

        # moto's records lack the version id, sequencer, requester, request ids and bucket owner, and encode the
        # key's slashes; the submit function keys jobs on the version id (on the ETag and sequencer without one).
        def get_s3_event(event_name: Any, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
            event = getattr(request, "event", None) or _S3Event.new(bucket.arn)
            return {
                "Records": [
                    _s3_event_record(str(getattr(event_name, "value", event_name)), bucket, key, notification_id, event)
                ]
            }

        self._set(moto.s3.notifications, "send_event", send_event)
        self._set(moto.s3.notifications, "_get_s3_event", get_s3_event)

        def only_notifying(owner: Any, name: str, event: S3NotificationEvent) -> None:
            original = getattr(owner, name)

            @functools.wraps(original)
            def notifying_its_own_event_only(*args: Any, **kwargs: Any) -> Any:
                outer = getattr(request, "only", None)
                request.only = event
                try:
                    return original(*args, **kwargs)
                finally:
                    request.only = outer

            self._set(owner, name, notifying_its_own_event_only)

        # moto's PutObject (and CopyObject replacing the tags) sets the object's tags through PutObjectTagging, which
        # notifies ObjectTagging:Put, with no tags too; its CompleteMultipartUpload stores the object with PutObject,
        # which notifies ObjectCreated:Put (and ObjectTagging:Put) before ObjectCreated:CompleteMultipartUpload. AWS
        # notifies one event per request.
        only_notifying(S3Response, "put_object", S3NotificationEvent.OBJECT_CREATED_PUT_EVENT)
        only_notifying(S3Response, "copy_object", S3NotificationEvent.OBJECT_CREATED_COPY_EVENT)
        only_notifying(
            S3Backend, "complete_multipart_upload", S3NotificationEvent.OBJECT_CREATED_COMPLETE_MULTIPART_UPLOAD_EVENT
        )

    def _patch_wafv2(self) -> None:
        from moto.wafv2.models import WAFV2Backend

        original = WAFV2Backend.update_web_acl

        # WAF replaces the rules with the list given, an empty one too; moto keeps the old rules when it is empty,
        # so lifting the last block would leave it in place.
        @functools.wraps(original)
        def update_web_acl(self: Any, name: str, _id: str, *args: Any, **kwargs: Any) -> Any:
            lock_token = original(self, name, _id, *args, **kwargs)
            rules = kwargs["rules"] if "rules" in kwargs else args[1]
            if rules is not None and len(rules) == 0:
                self.get_web_acl(None, name, _id).rules = []
            return lock_token

        self._set(WAFV2Backend, "update_web_acl", update_web_acl)

    def _patch_cloudformation(self) -> None:
        import moto.cloudformation.parsing as parsing
        from moto.cloudformation.custom_model import CustomModel
        from moto.cloudformation.models import cloudformation_backends
        from moto.cloudformation.responses import CloudFormationResponse

        glue = self
        original_custom = vars(CustomModel)["create_from_cloudformation_json"].__func__

        # CloudFormation hands custom resources every property as a string; CDK's handlers rely on that. And it
        # creates the resources that refer to a custom resource only once it has answered; moto goes on at once, so
        # a GetAtt of it would resolve to nothing: the creation waits here for the answer (or a failure).
        @functools.wraps(original_custom)
        def create_custom(
            cls: Any,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> Any:
            properties = _cloudformation_strings(cloudformation_json["Properties"])
            properties["ServiceToken"] = cloudformation_json["Properties"]["ServiceToken"]
            resource = {**cloudformation_json, "Properties": properties}
            created = original_custom(cls, resource_name, resource, account_id, region_name, **kwargs)
            stack_id, logical_id = str(kwargs.get("StackId")), str(kwargs.get("LogicalId"))
            with glue._answers:
                glue._answers.wait_for(
                    lambda: created.is_created() or glue.failed(stack_id, logical_id),
                    timeout=CUSTOM_RESOURCE_WAIT_SECONDS,
                )
            return created

        custom: Any = create_custom
        self._set(CustomModel, "create_from_cloudformation_json", classmethod(custom))

        original_response = CloudFormationResponse.process_cfn_response

        # moto's answer handler checks every resource of the stack and creates those not created yet: while
        # CreateStack waits for this very answer, that would create them a second time beside CreateStack's own
        # loop. It records the answer (a FAILED one too, which moto ignores) and lets CreateStack go on.
        @functools.wraps(original_response)
        def process_cfn_response(self: Any) -> Any:
            stack_id, logical_id = str(self._get_param("StackId")), str(self._get_param("LogicalResourceId"))
            with glue._answers:
                if self._get_param("Status") == "SUCCESS":
                    # The stack's own region: moto would take the default one, the response URL naming no host.
                    _, _, _, region, account, _ = stack_id.split(":", 5)
                    stack = cloudformation_backends[account][region].get_stack(stack_id)
                    stack.get_custom_resource(logical_id).set_data(self._get_param("Data"))
                    if stack.status != "CREATE_IN_PROGRESS":
                        stack.verify_readiness()
                else:
                    reason = str(self._get_param("Reason") or "no reason given")
                    glue.custom_resource_failures.append(CustomResourceFailure(stack_id, logical_id, reason))
                glue._answers.notify_all()
            return 200, {"status": 200}, json.dumps("{}")

        self._set(CloudFormationResponse, "process_cfn_response", process_cfn_response)

        original_class_from_type = parsing.resource_class_from_type

        # Types moto's CloudFormation does not create: ours, or a placeholder instead of silently nothing.
        @functools.wraps(original_class_from_type)
        def resource_class_from_type(resource_type: str) -> Any:
            if resource_type in _LOCAL_MODELS:
                return _LOCAL_MODELS[resource_type]
            model = original_class_from_type(resource_type)
            if model is None and resource_type not in parsing.NULL_MODELS:
                return _Placeholder
            return model

        self._set(parsing, "resource_class_from_type", resource_class_from_type)

        from moto.s3.models import FakeBucket

        original_bucket = vars(FakeBucket)["create_from_cloudformation_json"].__func__

        # moto's CloudFormation ignores a bucket's VersioningConfiguration; the pipeline keys jobs on versions.
        @functools.wraps(original_bucket)
        def create_bucket(
            cls: Any,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> Any:
            bucket = original_bucket(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
            status = cloudformation_json.get("Properties", {}).get("VersioningConfiguration", {}).get("Status")
            if status:
                bucket.versioning_status = status
            return bucket

        bucket_model: Any = create_bucket
        self._set(FakeBucket, "create_from_cloudformation_json", classmethod(bucket_model))

    # -- running functions ---------------------------------------------------------------------------------------

    def run_function(self, function: Any, event: Any) -> InvocationResult:
        """Runs a moto LambdaFunction's handler in this process and records the run in CloudWatch Logs."""
        spec = _function_spec(function)
        if not spec.runtime.startswith("python") and _is_custom_resource_request(event):
            return self._acknowledge_custom_resource(spec, event)
        result = self.runtime.invoke(spec, event)
        try:
            function.logs_backend.ensure_log_group(spec.log_group)
            function.save_logs(result.log)
        except Exception:
            log.debug("could not write the logs of %s", spec.name, exc_info=True)
        return result

    def _acknowledge_custom_resource(self, spec: FunctionSpec, event: dict[str, Any]) -> InvocationResult:
        """A provider written for another runtime (e.g. CDK's Node.js ones) cannot run here: report SUCCESS."""
        warning = (
            f"custom resource {event.get('LogicalResourceId')} ({event.get('ResourceType')}): provider "
            f"{spec.name} is {spec.runtime}, acknowledged without running it"
        )
        self.warnings.append(warning)
        log.warning(warning)
        response: dict[str, Any] = {
            "Status": "SUCCESS",
            "Reason": "acknowledged by the local AWS without running the provider",
            "PhysicalResourceId": event.get("PhysicalResourceId") or event.get("LogicalResourceId"),
            "StackId": event.get("StackId"),
            "RequestId": event.get("RequestId"),
            "LogicalResourceId": event.get("LogicalResourceId"),
            "Data": {},
        }
        url = str(event["ResponseURL"])
        if not url.startswith(self.endpoint_url + "/"):
            raise MotoGlueError(f"custom resource response URL {url} is not on the local AWS {self.endpoint_url}")
        # Checked above: moto's own http URL.
        request = urllib.request.Request(url, data=json.dumps(response).encode(), method="PUT")  # noqa: S310
        with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310
            reply.read()
        return InvocationResult(spec.name, "", b"null", False, 0.0, warning)


class _S3Sequencer:
    """S3's `sequencer`: hex strings of equal length that increase with each event on a key. Here they increase per
    bucket, over the whole process (so across local AWSs too): the time in nanoseconds, or one more than the last."""

    WIDTH = 18  # as AWS's, e.g. 0055AED6DCD90281E5

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, int] = {}

    def next(self, bucket_arn: str) -> str:
        with self._lock:
            value = max(time.time_ns(), self._last.get(bucket_arn, 0) + 1)
            self._last[bucket_arn] = value
        return f"{value:0{self.WIDTH}X}"


_S3_SEQUENCER = _S3Sequencer()


@dataclass(frozen=True)
class _S3Event:
    """What the records of one S3 event share, whatever configuration or destination they are sent for."""

    time: str
    sequencer: str
    request_id: str
    host_id: str

    @classmethod
    def new(cls, bucket_arn: str) -> _S3Event:
        return cls(
            time=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            sequencer=_S3_SEQUENCER.next(bucket_arn),
            request_id=secrets.token_hex(8).upper(),
            host_id=base64.b64encode(secrets.token_bytes(48)).decode(),
        )


def _s3_principal_id(account_id: str, prefix: str = "A", length: int = 14) -> str:
    """An AWS-shaped principal id, stable per account (moto's S3 backend does not know the caller)."""
    digest = base64.b32encode(hashlib.sha256(f"{prefix}{account_id}".encode()).digest()).decode()
    return (prefix + digest)[:length]


def _s3_event_key(name: str) -> str:
    """S3 event keys are form-encoded ("a b+c" -> "a+b%2Bc", UTF-8 percent-encoded) but keep their slashes."""
    return urllib.parse.quote_plus(name, safe="/")


def _s3_event_record(event_name: str, bucket: Any, key: Any, configuration_id: str, event: _S3Event) -> dict[str, Any]:
    """One record of an S3 event notification, as AWS sends it (notification-content-structure in the S3 guide).

    The object has a size and an ETag for creations and restores, an ETag alone for tag and ACL changes (event
    version 2.3), neither for removals; a version id when the bucket has versioning, enabled or suspended ("null"
    for an object written while it is suspended), none when it never had; a sequencer except for tag and ACL changes.
    """
    name = event_name.removeprefix("s3:")
    tags_or_acl = name.startswith(("ObjectTagging:", "ObjectAcl:"))
    obj: dict[str, Any] = {"key": _s3_event_key(key.name)}
    if name.startswith(("ObjectCreated:", "ObjectRestore:")):
        obj["size"] = key.size
    if name.startswith(("ObjectCreated:", "ObjectRestore:")) or tags_or_acl:
        obj["eTag"] = key.etag.replace('"', "")
    if bucket.versioning_status:
        obj["versionId"] = str(key.version_id)
    if not tags_or_acl:
        obj["sequencer"] = event.sequencer
    return {
        "eventVersion": "2.3" if tags_or_acl else "2.1",
        "eventSource": "aws:s3",
        "awsRegion": bucket.region_name,
        "eventTime": event.time,
        "eventName": name,
        "userIdentity": {"principalId": "AWS:" + _s3_principal_id(bucket.account_id, "AIDA", 21)},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": event.request_id, "x-amz-id-2": event.host_id},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {
                "name": bucket.name,
                "ownerIdentity": {"principalId": _s3_principal_id(bucket.account_id)},
                "arn": bucket.arn,
            },
            "object": obj,
        },
    }


def _layer_version_arn(layer_version: Any) -> str:
    return str(layer_version.arn)


def _event_from_body(body: Any) -> Any:
    if isinstance(body, bytes):
        body = body.decode()
    if not body:
        return {}
    if isinstance(body, str):
        return json.loads(body)
    return body


def _is_custom_resource_request(event: Any) -> bool:
    return isinstance(event, dict) and "ResponseURL" in event and "RequestType" in event


def _function_spec(function: Any) -> FunctionSpec:
    code: bytes = getattr(function, "code_bytes", b"") or b""
    arn_parts = str(function.function_arn).split(":")
    environment = {str(k): str(v) for k, v in (function.environment_vars or {}).items()}
    return FunctionSpec(
        name=function.function_name,
        arn=function.function_arn,
        version=arn_parts[7] if len(arn_parts) > 7 else "$LATEST",
        handler=function.handler or "",
        runtime=function.run_time or "",
        code_sha256=hashlib.sha256(code).hexdigest(),
        code_zip=code,
        environment=environment,
        memory_mb=int(function.memory_size),
        timeout_seconds=float(function.timeout),
        region=function.region,
        log_group=function.logs_group_name,
    )
