"""Runs Python Lambda handlers in this process, the way the Lambda runtime would run them in a sandbox.

Knows nothing about moto: `moto_glue` turns moto's function objects into `FunctionSpec`s and the results into
Lambda API responses. What it emulates, and how:
- code: the function's zip is extracted once per code hash; the handler is imported from there.
- isolation: two functions may both ship a module called `handler` or `pipeline`. Each function gets its own
  module namespace: around every call, the top-level names its zip contains are swapped in and out of
  `sys.modules`, with the code directory first on `sys.path`; so each function keeps its own warm modules.
- environment: `os.environ` is process-global, so calls are serialized by one lock; during a call it holds the
  function's variables, the runtime's reserved ones, dummy credentials and `AWS_ENDPOINT_URL` (boto3 in the
  handler reaches the local AWS); touched variables are restored afterwards.
- dependencies: come from this process's environment (the project's pinned venv), never from layers: the layer
  holds wheels for the Lambda platform (aarch64), which cannot load here.
- errors: an exception becomes the payload the Python runtime returns (errorMessage, errorType, stackTrace) and the
  invocation is a function error ("Unhandled").
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import io
import json
import logging
import os
import sys
import tempfile
import threading
import time
import traceback
import uuid
import zipfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3

log = logging.getLogger("doverunner_local.aws.lambda")

# Credentials the local AWS accepts; anything real must never reach a handler.
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
# Where the Lambda runtime keeps the log tail it returns with LogType=Tail.
_LOG_TAIL_BYTES = 4096


@dataclass(frozen=True)
class FunctionSpec:
    """What the runtime needs to know about one function version."""

    name: str
    arn: str
    version: str
    handler: str
    runtime: str
    code_sha256: str
    code_zip: bytes
    environment: Mapping[str, str]
    memory_mb: int
    timeout_seconds: float
    region: str
    log_group: str


class _OutputRouter(io.TextIOBase):
    """What a function prints goes to its invocation's log, as Lambda sends it to CloudWatch, not to this
    process's output. Loggers keep the stream they found at import (Powertools does), so while the runtime is
    in use the process's stream is this router; only the invoking thread's writes are kept, other threads'
    writes (the demo printing, say) go where they always went."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._local = threading.local()
        self._original: Any = None
        self._active = 0
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        target: list[str] | None = getattr(self._local, "target", None)
        if target is not None:
            target.append(text)
        elif self._original is not None:
            self._original.write(text)
        return len(text)

    def flush(self) -> None:
        if self._original is not None and getattr(self._local, "target", None) is None:
            self._original.flush()

    @contextlib.contextmanager
    def capture(self, target: list[str]) -> Iterator[None]:
        with self._lock:
            if self._active == 0:
                self._original = getattr(sys, self._name)
                setattr(sys, self._name, self)
            self._active += 1
        self._local.target = target
        try:
            yield
        finally:
            self._local.target = None
            with self._lock:
                self._active -= 1
                if self._active == 0:
                    setattr(sys, self._name, self._original)


class _Output:
    def __init__(self) -> None:
        self.stdout = _OutputRouter("stdout")
        self.stderr = _OutputRouter("stderr")

    @contextlib.contextmanager
    def capture(self, target: list[str]) -> Iterator[None]:
        with self.stdout.capture(target), self.stderr.capture(target):
            yield


_OUTPUT = _Output()


@dataclass(frozen=True)
class InvocationResult:
    """One invocation as the Lambda service reports it: a JSON payload and whether it is a function error."""

    function_name: str
    request_id: str
    payload: bytes
    function_error: bool
    seconds: float
    log: str

    @property
    def log_tail(self) -> str:
        """The base64 log tail that Invoke returns with LogType=Tail."""
        return base64.b64encode(self.log.encode()[-_LOG_TAIL_BYTES:]).decode()


class LambdaContext:
    """The context object of the Python runtime (awslambdaric), with the same attribute names and types."""

    def __init__(self, spec: FunctionSpec, request_id: str, log_stream: str, deadline: float) -> None:
        self.function_name = spec.name
        self.function_version = spec.version
        self.invoked_function_arn = spec.arn
        # The real runtime reads it from AWS_LAMBDA_FUNCTION_MEMORY_SIZE: a string, not an int.
        self.memory_limit_in_mb = str(spec.memory_mb)
        self.aws_request_id = request_id
        self.log_group_name = spec.log_group
        self.log_stream_name = log_stream
        self.identity: Any = None
        self.client_context: Any = None
        self.tenant_id: str | None = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class _Namespace:
    """One function's warm state: its modules, its boto3 default session and its handler."""

    code_dir: Path
    top_level_names: frozenset[str]
    modules: dict[str, ModuleType] = field(default_factory=dict)
    boto3_session: boto3.Session | None = None
    handler: Callable[[Any, LambdaContext], Any] | None = None


class _HandlerError(Exception):
    """A failure of the runtime itself (import, handler lookup, serialization), reported like the real one."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def _top_level_names(code_dir: Path) -> frozenset[str]:
    names = set()
    for entry in code_dir.iterdir():
        if entry.name.startswith((".", "__pycache__")):
            continue
        if entry.is_dir():
            names.add(entry.name)
        elif entry.suffix == ".py" or ".cpython-" in entry.name or entry.suffix == ".so":
            names.add(entry.name.split(".", 1)[0])
    return frozenset(names)


def _owned(module_name: str, names: frozenset[str]) -> bool:
    return module_name.split(".", 1)[0] in names


def _forget_host_package_state() -> None:
    """Warm state that handlers leave in host packages, which are not swapped per function: Powertools keeps its
    parameter providers, each with a boto3 client bound to this runtime's endpoint, in a module global; a later
    runtime in this process would reach the old endpoint."""
    parameters = sys.modules.get("aws_lambda_powertools.utilities.parameters")
    if parameters is not None:
        parameters.clear_caches()


def _error_payload(error_type: str, message: str, request_id: str, stack: list[str]) -> bytes:
    return json.dumps(
        {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack}
    ).encode()


class InProcessLambdaRuntime:
    """Invokes `FunctionSpec`s in this process, one at a time."""

    def __init__(
        self,
        endpoint_url: str,
        *,
        enforce_timeouts: bool = True,
        lock_timeout: float = 120.0,
        keep_invocations: int = 1000,
        isolated_packages: Iterable[str] = (),
    ) -> None:
        self.endpoint_url = endpoint_url
        self.enforce_timeouts = enforce_timeouts
        # A handler that synchronously invokes another function would wait forever for the lock: fail instead.
        self.lock_timeout = lock_timeout
        self.invocations: deque[InvocationResult] = deque(maxlen=keep_invocations)
        # Pure-Python host packages (e.g. the layer's `doverunner`) that each function imports afresh, so that
        # module-level state (caches, clients) is per function as in separate sandboxes. Not for C extensions.
        self.isolated_packages = frozenset(isolated_packages)
        self._lock = threading.Lock()
        self._workdir = tempfile.TemporaryDirectory(prefix="doverunner-lambda-")
        self._code_dirs: dict[str, Path] = {}
        self._namespaces: dict[tuple[str, str], _Namespace] = {}

    def close(self) -> None:
        """Forgets every warm function and deletes the extracted code."""
        with self._lock:
            self._namespaces.clear()
            self._code_dirs.clear()
            self._workdir.cleanup()
            _forget_host_package_state()

    def invoke(self, spec: FunctionSpec, event: Any) -> InvocationResult:
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        if not spec.runtime.startswith("python"):
            return self._result(
                spec, request_id, started, "Runtime.Unsupported", f"runtime {spec.runtime} cannot run in-process"
            )
        if not self._lock.acquire(timeout=self.lock_timeout):
            message = (
                f"no in-process Lambda slot within {self.lock_timeout:.0f} s: another function is still running "
                "(a handler that synchronously invokes another function cannot run locally)"
            )
            return self._result(spec, request_id, started, "Runtime.LocalDeadlock", message)
        try:
            return self._invoke_locked(spec, event, request_id)
        finally:
            self._lock.release()

    def _result(
        self, spec: FunctionSpec, request_id: str, started: float, error_type: str, message: str
    ) -> InvocationResult:
        result = InvocationResult(
            spec.name,
            request_id,
            _error_payload(error_type, message, request_id, []),
            True,
            time.monotonic() - started,
            f"{error_type}: {message}",
        )
        self.invocations.append(result)
        return result

    def _invoke_locked(self, spec: FunctionSpec, event: Any, request_id: str) -> InvocationResult:
        started = time.monotonic()
        try:
            namespace = self._namespace(spec)
        except (OSError, RuntimeError, zipfile.BadZipFile) as error:
            return self._result(spec, request_id, started, "Runtime.InvalidZipFile", str(error))
        now = datetime.now(UTC)
        log_stream = f"{now:%Y/%m/%d}/[{spec.version}]{uuid.uuid4().hex}"
        lines = [f"START RequestId: {request_id} Version: {spec.version}"]
        function_error = False
        invoked = started
        output: list[str] = []
        try:
            with (
                self._environment(spec, namespace, log_stream),
                self._namespace_active(namespace),
                _OUTPUT.capture(output),
            ):
                # Importing the handler is Lambda's init phase, which the function's timeout does not cover.
                handler = self._handler(spec, namespace)
                invoked = time.monotonic()
                context = LambdaContext(spec, request_id, log_stream, invoked + spec.timeout_seconds)
                result = handler(event, context)
                try:
                    payload = json.dumps(result).encode()
                except (TypeError, ValueError) as error:
                    raise _HandlerError("Runtime.MarshalError", f"Unable to marshal response: {error}") from error
        except _HandlerError as error:
            function_error = True
            payload = _error_payload(error.error_type, str(error), request_id, [])
            lines.append(f"[ERROR] {error.error_type}: {error}")
        except SystemExit as error:
            function_error = True
            payload = _error_payload(
                "Runtime.ExitError", f"RequestId: {request_id} Error: exit {error.code}", request_id, []
            )
            lines.append(f"[ERROR] Runtime.ExitError: exit {error.code}")
        except Exception as error:
            function_error = True
            stack = traceback.format_list(traceback.extract_tb(error.__traceback__)[1:])
            payload = _error_payload(type(error).__name__, str(error), request_id, stack)
            lines.append(f"[ERROR] {type(error).__name__}: {error}")
            lines.extend("".join(traceback.format_exception(error)).splitlines())
        seconds = time.monotonic() - started
        if self.enforce_timeouts and time.monotonic() - invoked > spec.timeout_seconds:
            # The real service would have stopped the sandbox; here the call ran to its end, so say so loudly.
            function_error = True
            message = f"RequestId: {request_id} Error: Task timed out after {spec.timeout_seconds:.2f} seconds"
            payload = json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": message}).encode()
            lines.append(message)
        lines[1:1] = "".join(output).splitlines()
        lines.append(f"END RequestId: {request_id}")
        lines.append(f"REPORT RequestId: {request_id}\tDuration: {seconds * 1000:.2f} ms")
        result = InvocationResult(spec.name, request_id, payload, function_error, seconds, "\n".join(lines))
        self.invocations.append(result)
        log.debug("Lambda %s log:\n%s", spec.name, result.log)
        if function_error:
            log.warning("Lambda %s failed: %s", spec.name, payload.decode(errors="replace")[:500])
        return result

    def _namespace(self, spec: FunctionSpec) -> _Namespace:
        key = (spec.arn, spec.code_sha256)
        namespace = self._namespaces.get(key)
        if namespace is None:
            code_dir = self._code_dir(spec)
            namespace = _Namespace(code_dir, _top_level_names(code_dir) | self.isolated_packages)
            self._namespaces[key] = namespace
        return namespace

    def _code_dir(self, spec: FunctionSpec) -> Path:
        code_dir = self._code_dirs.get(spec.code_sha256)
        if code_dir is None:
            if not spec.code_zip:
                raise RuntimeError(f"function {spec.name} has no code (was its asset uploaded?)")
            code_dir = Path(self._workdir.name) / spec.code_sha256[:32]
            with zipfile.ZipFile(io.BytesIO(spec.code_zip)) as archive:
                archive.extractall(code_dir)
            self._code_dirs[spec.code_sha256] = code_dir
        return code_dir

    def _handler(self, spec: FunctionSpec, namespace: _Namespace) -> Callable[[Any, LambdaContext], Any]:
        if namespace.handler is not None:
            return namespace.handler
        module_path, _, function_name = spec.handler.rpartition(".")
        if not module_path or not function_name:
            raise _HandlerError("Runtime.MalformedHandlerName", f"Bad handler '{spec.handler}'")
        module_name = module_path.replace("/", ".")
        try:
            module = importlib.import_module(module_name)
        except Exception as error:
            raise _HandlerError(
                "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}"
            ) from error
        found = getattr(module, function_name, None)
        if not callable(found):
            raise _HandlerError(
                "Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'"
            )
        handler: Callable[[Any, LambdaContext], Any] = found
        namespace.handler = handler
        return handler

    @contextlib.contextmanager
    def _namespace_active(self, namespace: _Namespace) -> Iterator[None]:
        """Puts the function's own modules, code path and boto3 session in place for the call."""
        names = namespace.top_level_names
        stashed = {name: module for name, module in sys.modules.items() if _owned(name, names)}
        for name in stashed:
            del sys.modules[name]
        sys.modules.update(namespace.modules)
        sys.path.insert(0, str(namespace.code_dir))
        importlib.invalidate_caches()
        host_session = boto3.DEFAULT_SESSION
        # A fresh default session per function, created under the function's environment.
        boto3.DEFAULT_SESSION = namespace.boto3_session
        try:
            yield
        finally:
            namespace.boto3_session = boto3.DEFAULT_SESSION
            boto3.DEFAULT_SESSION = host_session
            with contextlib.suppress(ValueError):
                sys.path.remove(str(namespace.code_dir))
            namespace.modules = {name: module for name, module in sys.modules.items() if _owned(name, names)}
            for name in namespace.modules:
                del sys.modules[name]
            sys.modules.update(stashed)

    @contextlib.contextmanager
    def _environment(self, spec: FunctionSpec, namespace: _Namespace, log_stream: str) -> Iterator[None]:
        """Sets the function's environment in os.environ and restores every variable it touched."""
        nowhere = str(Path(self._workdir.name) / "no-aws-config")
        values: dict[str, str] = {
            # Reserved variables of the Lambda runtime.
            "_HANDLER": spec.handler,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "LAMBDA_TASK_ROOT": str(namespace.code_dir),
            **DUMMY_CREDENTIALS,
            # boto3 (botocore >= 1.31) sends every service to this endpoint.
            "AWS_ENDPOINT_URL": self.endpoint_url,
            # So that a developer's ~/.aws (profiles, per-service endpoints) cannot leak in.
            "AWS_CONFIG_FILE": nowhere,
            "AWS_SHARED_CREDENTIALS_FILE": nowhere,
            **spec.environment,
            # No X-Ray daemon here: the X-Ray SDK would patch boto3 process-wide and warn on every call.
            "POWERTOOLS_TRACE_DISABLED": "true",
            "AWS_XRAY_SDK_ENABLED": "false",
        }
        # Other AWS_* variables of this process (AWS_PROFILE, AWS_ENDPOINT_URL_S3, ...) would change what boto3 does.
        removed = [name for name in os.environ if name.startswith("AWS_") and name not in values]
        previous = {name: os.environ.get(name) for name in [*values, *removed]}
        for name in removed:
            del os.environ[name]
        os.environ.update(values)
        try:
            yield
        finally:
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
