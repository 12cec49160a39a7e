"""The in-process Lambda runtime on its own: code zips in, Lambda-shaped results out; no AWS involved."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sys
import threading
import zipfile
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest

from doverunner_local.aws.lambda_runtime import FunctionSpec, InProcessLambdaRuntime, InvocationResult

ENDPOINT = "http://127.0.0.1:4566"

ECHO = """
import os

import pipeline


def handler(event, context):
    return {
        "event": event,
        "module": pipeline.NAME,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "aws_request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "environment": {name: os.environ.get(name) for name in event.get("show", [])},
    }


def fail(event, context):
    raise KeyError("no such detection")


def slow(event, context):
    import time

    time.sleep(0.2)


def held(event, context):
    # Sets the event's variables, notes what it sees, then stays in the call until the test releases it.
    import boto3

    os.environ.update(event.get("set", {}))
    client = boto3.client("s3")
    event["seen"].update(
        environment=dict(os.environ), endpoint=client.meta.endpoint_url, session=boto3.DEFAULT_SESSION
    )
    event["inside"].set()
    event["release"].wait(5)


def churn(event, context):
    for name in event["names"]:
        os.environ[name] = "set by the handler"
    for name in event["names"]:
        del os.environ[name]


def interfaces(event, context):
    return {
        "getenv": os.getenv("STAGE"),
        "get": os.environ.get("STAGE"),
        "item": os.environ["STAGE"],
        "in": "STAGE" in os.environ,
        "iterated": [name for name in os.environ if name == "STAGE"],
        "copy": os.environ.copy()["STAGE"],
        "dict": dict(os.environ)["STAGE"],
        "items": dict(os.environ.items())["STAGE"],
        "len": len(os.environ) == len(dict(os.environ)),
        "bytes": os.environb[b"STAGE"].decode(),
    }


def in_a_thread(event, context):
    import threading

    import boto3

    seen = {}

    def look():
        seen.update(stage=os.environ.get("STAGE"), endpoint=boto3.client("s3").meta.endpoint_url)

    worker = threading.Thread(target=look)
    worker.start()
    worker.join(5)
    return seen
"""


def _zip(files: Mapping[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _spec(name: str, code: bytes, handler: str = "handler.handler", **overrides: Any) -> FunctionSpec:
    values: dict[str, Any] = {
        "name": name,
        "arn": f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        "version": "$LATEST",
        "handler": handler,
        "runtime": "python3.12",
        "code_sha256": hashlib.sha256(code).hexdigest(),
        "code_zip": code,
        "environment": {"STAGE": name},
        "memory_mb": 256,
        "timeout_seconds": 3.0,
        "region": "eu-west-1",
        "log_group": f"/aws/lambda/{name}",
    }
    values.update(overrides)
    return FunctionSpec(**values)


def _code(module_name: str) -> bytes:
    return _zip({"handler.py": ECHO, "pipeline.py": f"NAME = {module_name!r}\n"})


def _payload(result: InvocationResult) -> Any:
    return json.loads(result.payload)


@contextlib.contextmanager
def _call_held(
    runtime: InProcessLambdaRuntime, spec: FunctionSpec, seen: dict[str, Any], **event: Any
) -> Iterator[Future[InvocationResult]]:
    """Invokes `handler.held` on another thread and keeps the call going, its handler inside, until the block
    ends; what the handler saw lands in `seen`."""
    inside, release = threading.Event(), threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        call = pool.submit(runtime.invoke, spec, {**event, "seen": seen, "inside": inside, "release": release})
        try:
            assert inside.wait(10), f"the handler never got in: {call.result().payload!r}"
            yield call
        finally:
            release.set()


@pytest.fixture
def runtime() -> Iterator[InProcessLambdaRuntime]:
    runtime = InProcessLambdaRuntime(ENDPOINT)
    yield runtime
    runtime.close()


def test_handler_gets_the_event_and_a_lambda_context(runtime: InProcessLambdaRuntime) -> None:
    spec = _spec("first", _code("first"))
    payload = _payload(runtime.invoke(spec, {"id": 7}))
    assert payload["event"] == {"id": 7}
    assert (payload["function_name"], payload["function_version"]) == ("first", "$LATEST")
    assert (payload["invoked_function_arn"], payload["memory_limit_in_mb"]) == (spec.arn, "256")
    assert payload["log_group_name"] == "/aws/lambda/first"
    assert "[$LATEST]" in payload["log_stream_name"]
    assert 0 < payload["remaining_ms"] <= 3000


def test_functions_with_the_same_module_names_keep_their_own_modules(runtime: InProcessLambdaRuntime) -> None:
    first, second = _spec("first", _code("first")), _spec("second", _code("second"))
    modules = [_payload(runtime.invoke(spec, {}))["module"] for spec in (first, second, first, second)]
    assert modules == ["first", "second", "first", "second"]


def test_function_modules_stay_out_of_the_host_modules(runtime: InProcessLambdaRuntime) -> None:
    runtime.invoke(_spec("first", _code("first")), {})
    assert "pipeline" not in sys.modules or "doverunner-lambda-" not in str(sys.modules["pipeline"])
    assert "handler" not in sys.modules or "doverunner-lambda-" not in str(sys.modules["handler"])


def test_handler_sees_its_variables_the_endpoint_and_dummy_credentials(runtime: InProcessLambdaRuntime) -> None:
    names = ["STAGE", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID"]
    environment = _payload(runtime.invoke(_spec("first", _code("first")), {"show": names}))["environment"]
    assert environment == {
        "STAGE": "first",
        "AWS_ENDPOINT_URL": ENDPOINT,
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
    }


def test_handler_sees_exactly_its_functions_environment_on_the_hosts_other_variables(
    runtime: InProcessLambdaRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOST_ONLY", "kept")
    host = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    seen: dict[str, Any] = {}

    with _call_held(runtime, _spec("first", _code("first"), handler="handler.held"), seen):
        pass

    varying = {"AWS_LAMBDA_LOG_STREAM_NAME", "LAMBDA_TASK_ROOT", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"}
    assert varying <= seen["environment"].keys()
    assert {name: value for name, value in seen["environment"].items() if name not in varying} == {
        **host,
        "STAGE": "first",
        "_HANDLER": "handler.held",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_LAMBDA_FUNCTION_NAME": "first",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/first",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_ENDPOINT_URL": ENDPOINT,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_XRAY_SDK_ENABLED": "false",
    }


def test_other_threads_see_the_process_environment_unchanged_during_a_call(runtime: InProcessLambdaRuntime) -> None:
    before = dict(os.environ)
    seen: dict[str, Any] = {}

    with _call_held(runtime, _spec("first", _code("first"), handler="handler.held"), seen):
        during = (dict(os.environ), os.environ.copy(), os.getenv("STAGE"), "AWS_LAMBDA_FUNCTION_NAME" in os.environ)

    assert seen["environment"]["STAGE"] == "first"  # the handler was in its call at that moment
    assert during == (before, before, None, False)


def test_handler_reads_its_environment_through_every_interface_of_os(runtime: InProcessLambdaRuntime) -> None:
    payload = _payload(runtime.invoke(_spec("first", _code("first"), handler="handler.interfaces"), {}))
    assert payload == {
        "getenv": "first",
        "get": "first",
        "item": "first",
        "in": True,
        "iterated": ["STAGE"],
        "copy": "first",
        "dict": "first",
        "items": "first",
        "len": True,
        "bytes": "first",
    }


def test_host_aws_variables_are_hidden_from_the_handler(
    runtime: InProcessLambdaRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "someones-real-account")
    monkeypatch.setenv("AWS_CA_BUNDLE", "/etc/someones/ca.pem")
    show = ["AWS_PROFILE", "AWS_CA_BUNDLE"]
    environment = _payload(runtime.invoke(_spec("first", _code("first")), {"show": show}))["environment"]
    assert environment == {"AWS_PROFILE": None, "AWS_CA_BUNDLE": None}


def test_host_aws_variables_stay_in_the_process_during_and_after_the_call(
    runtime: InProcessLambdaRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "someones-real-account")
    monkeypatch.setenv("AWS_CA_BUNDLE", "/etc/someones/ca.pem")
    host = {"AWS_PROFILE": "someones-real-account", "AWS_CA_BUNDLE": "/etc/someones/ca.pem"}

    with _call_held(runtime, _spec("first", _code("first"), handler="handler.held"), {}):
        during = {name: os.environ.get(name) for name in host}
    after = {name: os.environ.get(name) for name in host}

    assert during == after == host


def test_host_environment_is_restored_after_the_call(
    runtime: InProcessLambdaRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "someones-real-account")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    before = dict(os.environ)
    runtime.invoke(_spec("first", _code("first")), {})
    assert dict(os.environ) == before


def test_variable_a_handler_sets_stays_in_its_call(runtime: InProcessLambdaRuntime) -> None:
    spec = _spec("first", _code("first"), handler="handler.held")
    seen: dict[str, Any] = {}

    with _call_held(runtime, spec, seen, set={"SET_BY_HANDLER": "mine"}):
        during = os.environ.get("SET_BY_HANDLER")
    after = os.environ.get("SET_BY_HANDLER")

    assert seen["environment"]["SET_BY_HANDLER"] == "mine"
    assert (during, after) == (None, None)


def test_other_threads_keep_their_own_boto3_default_session_during_a_call(
    runtime: InProcessLambdaRuntime, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    seen: dict[str, Any] = {}

    with _call_held(runtime, _spec("first", _code("first"), handler="handler.held"), seen):
        endpoint = boto3.client("s3", region_name="us-east-1").meta.endpoint_url
        session = boto3.DEFAULT_SESSION

    assert seen["endpoint"] == ENDPOINT
    assert session is not None
    assert session is not seen["session"]
    assert endpoint != ENDPOINT


def test_thread_started_by_a_handler_has_its_calls_environment_and_session(runtime: InProcessLambdaRuntime) -> None:
    payload = _payload(runtime.invoke(_spec("first", _code("first"), handler="handler.in_a_thread"), {}))
    assert payload == {"stage": "first", "endpoint": ENDPOINT}


@pytest.fixture
def frequent_thread_switches() -> Iterator[None]:
    """Threads take turns every 10 µs instead of every 5 ms, so that races show within a few thousand tries."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(interval)


@pytest.mark.usefixtures("frequent_thread_switches")
def test_concurrent_calls_and_client_creation_raise_nothing_in_10000_tries(runtime: InProcessLambdaRuntime) -> None:
    # Functions whose environments set many variables, with handlers setting and deleting more...
    names = [f"FUNCTION_VARIABLE_{i}" for i in range(100)]
    specs = [
        _spec(f"f{n}", _code(f"f{n}"), handler="handler.churn", environment=dict.fromkeys(names, str(n)))
        for n in range(2)
    ]
    event = {"names": [f"HANDLER_VARIABLE_{i}" for i in range(50)]}
    # ...called over and over, while other threads read the environment and create sessions and clients.
    failures: list[str] = []
    readers_done = threading.Event()

    def invoke(spec: FunctionSpec) -> None:
        while not readers_done.is_set():
            result = runtime.invoke(spec, event)
            if result.function_error:
                failures.append(result.payload.decode())

    def read(tries: int) -> None:
        for attempt in range(tries):
            try:
                if attempt % 1250 == 1249:
                    boto3.session.Session().client("s3", region_name="eu-west-1", endpoint_url=ENDPOINT)
                elif attempt % 100 == 99:
                    botocore.session.Session()
                elif attempt % 2:
                    os.environ.copy()
                else:
                    dict(os.environ)
            except Exception as error:
                failures.append(repr(error))

    invokers = [threading.Thread(target=invoke, args=(spec,)) for spec in specs]
    readers = [threading.Thread(target=read, args=(2500,)) for _ in range(4)]
    for thread in [*invokers, *readers]:
        thread.start()
    for thread in readers:
        thread.join()
    readers_done.set()
    for thread in invokers:
        thread.join()

    assert failures == []


def test_the_last_runtime_to_close_gives_the_process_back_its_environ_boto3_and_threads() -> None:
    before = (type(os.environ), type(boto3), threading.Thread.start)
    first, second = InProcessLambdaRuntime(ENDPOINT), InProcessLambdaRuntime(ENDPOINT)

    first.close()
    while_one_is_open = type(os.environ)
    second.close()

    assert while_one_is_open is not os._Environ
    assert (type(os.environ), type(boto3), threading.Thread.start) == before


def test_handler_exception_is_an_error_payload_like_the_python_runtime(runtime: InProcessLambdaRuntime) -> None:
    result = runtime.invoke(_spec("first", _code("first"), handler="handler.fail"), {})
    payload = _payload(result)
    assert result.function_error
    assert (payload["errorType"], payload["errorMessage"]) == ("KeyError", "'no such detection'")
    assert payload["requestId"] == result.request_id
    assert payload["stackTrace"]


def test_missing_module_is_an_import_module_error(runtime: InProcessLambdaRuntime) -> None:
    result = runtime.invoke(_spec("first", _code("first"), handler="missing.handler"), {})
    assert result.function_error
    assert _payload(result)["errorType"] == "Runtime.ImportModuleError"


def test_call_longer_than_the_timeout_is_a_timeout_error(runtime: InProcessLambdaRuntime) -> None:
    result = runtime.invoke(_spec("first", _code("first"), handler="handler.slow", timeout_seconds=0.05), {})
    assert result.function_error
    assert _payload(result)["errorType"] == "Sandbox.Timedout"


def test_other_runtimes_are_refused(runtime: InProcessLambdaRuntime) -> None:
    result = runtime.invoke(_spec("first", _code("first"), runtime="nodejs20.x"), {})
    assert result.function_error
    assert _payload(result)["errorType"] == "Runtime.Unsupported"


def test_isolated_host_package_has_its_own_state_per_function(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "shared_state.py").write_text("CALLS = []\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code = _zip(
        {
            "handler.py": (
                "import shared_state\n\n\ndef handler(event, context):\n"
                "    shared_state.CALLS.append(1)\n    return len(shared_state.CALLS)\n"
            )
        }
    )
    runtime = InProcessLambdaRuntime(ENDPOINT, isolated_packages={"shared_state"})
    try:
        first, second = _spec("first", code), _spec("second", code)
        counts = [_payload(runtime.invoke(spec, {})) for spec in (first, second, first)]
    finally:
        runtime.close()
    assert counts == [1, 1, 2]
    assert "shared_state" not in sys.modules


def test_closing_forgets_powertools_parameter_providers_bound_to_its_endpoint() -> None:
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    runtime = InProcessLambdaRuntime(ENDPOINT)
    DEFAULT_PROVIDERS["secrets"] = object()  # what a handler's get_secret leaves behind

    runtime.close()

    assert DEFAULT_PROVIDERS == {}
