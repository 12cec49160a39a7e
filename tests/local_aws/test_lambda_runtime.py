"""The in-process Lambda runtime on its own: code zips in, Lambda-shaped results out; no AWS involved."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

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


def test_host_aws_variables_are_hidden_from_the_handler(
    runtime: InProcessLambdaRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "someones-real-account")
    environment = _payload(runtime.invoke(_spec("first", _code("first")), {"show": ["AWS_PROFILE"]}))["environment"]
    assert environment == {"AWS_PROFILE": None}


def test_host_environment_is_restored_after_the_call(
    runtime: InProcessLambdaRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "someones-real-account")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    before = dict(os.environ)
    runtime.invoke(_spec("first", _code("first")), {})
    assert dict(os.environ) == before


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
