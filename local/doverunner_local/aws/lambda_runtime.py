"""Runs Python Lambda handlers in this process, the way the Lambda runtime would run them in a sandbox.

Knows nothing about moto: `moto_glue` turns moto's function objects into `FunctionSpec`s and the results into
Lambda API responses. What it emulates, and how:
- code: the function's zip is extracted once per code hash; the handler is imported from there.
- isolation: two functions may both ship a module called `handler` or `pipeline`. Each function gets its own
  module namespace: around every call, the top-level names its zip contains are swapped in and out of
  `sys.modules`, with the code directory first on `sys.path`; so each function keeps its own warm modules.
- environment: per thread, never the process's. While a runtime exists, `os.environ` (and `os.environb`) is the
  same object with another class (`_ThreadLocalEnviron`): a thread inside a call reads and writes its call's own
  copy, which holds the function's variables, the runtime's reserved ones, dummy credentials and
  `AWS_ENDPOINT_URL` (boto3 in the handler reaches the local AWS) instead of the process's other AWS_* variables;
  every other thread (moto, event-source pollers, the demo, tests) sees the process's environment, untouched.
  What a handler sets stays in its call's copy (no putenv) and is gone after the call. boto3's default session
  is per thread the same way (the function's own inside a call). A thread a handler starts inherits its call's
  environment and session; a subprocess, C code calling getenv() and a thread started without
  `threading.Thread` see the process's environment.
- serialization: calls still run one at a time under one lock, because the `sys.modules` swap is process-wide.
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


@dataclass
class _Sandbox:
    """What a thread inside a call sees instead of the process's state: the call's environment (keys and values
    encoded as `os.environ` keeps them, so `os.environb` shares it) and the function's warm namespace (whose boto3
    default session is the thread's)."""

    environ: dict[Any, Any]
    namespace: _Namespace


_THREAD = threading.local()


def _current_sandbox() -> _Sandbox | None:
    sandbox: _Sandbox | None = getattr(_THREAD, "sandbox", None)
    return sandbox


class _ThreadLocalEnviron(os._Environ):  # type: ignore[type-arg]
    """The class of `os.environ` and `os.environb` while a runtime exists. Every method of `os._Environ` goes
    through `_data`: here it is the call's environment in a thread inside a call and the process's otherwise. The
    objects stay the same, so references taken before (`from os import environ`, botocore's) see it too."""

    @property
    def _data(self) -> Any:
        sandbox = _current_sandbox()
        return vars(self)["_data"] if sandbox is None else sandbox.environ

    @_data.setter
    def _data(self, data: Any) -> None:
        vars(self)["_data"] = data

    def __setitem__(self, key: Any, value: Any) -> None:
        sandbox = _current_sandbox()
        if sandbox is None:
            super().__setitem__(key, value)
        else:
            # No putenv: the process's own (C) environment is not the call's.
            sandbox.environ[self.encodekey(key)] = self.encodevalue(value)

    def __delitem__(self, key: Any) -> None:
        sandbox = _current_sandbox()
        if sandbox is None:
            super().__delitem__(key)
            return
        try:
            del sandbox.environ[self.encodekey(key)]
        except KeyError:
            raise KeyError(key) from None


class _ThreadLocalBoto3(ModuleType):
    """The class of the `boto3` module while a runtime exists: `boto3.DEFAULT_SESSION` is the function's own in a
    thread inside a call, the process's otherwise. (boto3's own functions read the global directly; the runtime
    replaces the two that do.)"""

    @property
    def DEFAULT_SESSION(self) -> Any:
        sandbox = _current_sandbox()
        return vars(self).get("DEFAULT_SESSION") if sandbox is None else sandbox.namespace.boto3_session

    @DEFAULT_SESSION.setter
    def DEFAULT_SESSION(self, session: Any) -> None:
        sandbox = _current_sandbox()
        if sandbox is None:
            vars(self)["DEFAULT_SESSION"] = session
        else:
            sandbox.namespace.boto3_session = session


class _PerThreadProcessState:
    """Makes the environment and boto3's default session per thread while at least one runtime exists, and puts
    the process back as it was when the last one closes. A thread started by a thread inside a call inherits its
    sandbox: a handler's worker threads (custom resources answer within the function's time from one) are part of
    the same sandbox, as in Lambda."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._undo: list[Callable[[], None]] = []

    def acquire(self) -> None:
        with self._lock:
            if self._users == 0:
                self._install()
            self._users += 1

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                while self._undo:
                    self._undo.pop()()

    def _install(self) -> None:
        environs = [os.environ, *([os.environb] if os.supports_bytes_environ else [])]
        for environ in environs:
            if type(environ) is not os._Environ:
                raise RuntimeError(f"os.environ is a {type(environ).__name__}: cannot make it per thread")
        for environ in environs:
            self._swap_class(environ, _ThreadLocalEnviron)
        self._swap_class(boto3, _ThreadLocalBoto3)
        original_get = vars(boto3)["_get_default_session"]
        original_setup = vars(boto3)["setup_default_session"]

        def get_default_session() -> boto3.Session:
            sandbox = _current_sandbox()
            if sandbox is None:
                return original_get()
            if sandbox.namespace.boto3_session is None:
                # Created under the call's environment, in the thread that first needs it.
                sandbox.namespace.boto3_session = boto3.Session()
            return sandbox.namespace.boto3_session

        def setup_default_session(**kwargs: Any) -> None:
            sandbox = _current_sandbox()
            if sandbox is None:
                original_setup(**kwargs)
            else:
                sandbox.namespace.boto3_session = boto3.Session(**kwargs)

        self._replace(boto3, "_get_default_session", get_default_session)
        self._replace(boto3, "setup_default_session", setup_default_session)
        original_start = vars(threading.Thread)["start"]

        def start(thread: threading.Thread) -> None:
            sandbox = _current_sandbox()
            if sandbox is not None:
                run = thread.run

                def run_in_sandbox() -> None:
                    _THREAD.sandbox = sandbox
                    run()

                thread.run = run_in_sandbox  # type: ignore[method-assign]
            original_start(thread)

        self._replace(threading.Thread, "start", start)

    def _swap_class(self, target: Any, cls: type) -> None:
        original = type(target)
        target.__class__ = cls

        def undo() -> None:
            target.__class__ = original

        self._undo.append(undo)

    def _replace(self, owner: Any, name: str, value: Any) -> None:
        original = vars(owner)[name]
        setattr(owner, name, value)

        def undo() -> None:
            # Unless someone replaced it after us: theirs stays.
            if vars(owner).get(name) is value:
                setattr(owner, name, original)

        self._undo.append(undo)


_PER_THREAD = _PerThreadProcessState()


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
        self._closed = False
        _PER_THREAD.acquire()

    def close(self) -> None:
        """Forgets every warm function and deletes the extracted code; the last runtime to close gives the process
        back its own `os.environ` and boto3 default session."""
        with self._lock:
            self._namespaces.clear()
            self._code_dirs.clear()
            self._workdir.cleanup()
            _forget_host_package_state()
            if not self._closed:
                self._closed = True
                _PER_THREAD.release()

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
                self._sandbox(spec, namespace, log_stream),
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
        """Puts the function's own modules and code path in place for the call (process-wide: under the lock)."""
        names = namespace.top_level_names
        # Iterating a copy (taken at once): other threads import meanwhile.
        stashed = {name: module for name, module in sys.modules.copy().items() if _owned(name, names)}
        for name in stashed:
            del sys.modules[name]
        sys.modules.update(namespace.modules)
        sys.path.insert(0, str(namespace.code_dir))
        importlib.invalidate_caches()
        try:
            yield
        finally:
            with contextlib.suppress(ValueError):
                sys.path.remove(str(namespace.code_dir))
            namespace.modules = {name: module for name, module in sys.modules.copy().items() if _owned(name, names)}
            for name in namespace.modules:
                del sys.modules[name]
            sys.modules.update(stashed)

    @contextlib.contextmanager
    def _sandbox(self, spec: FunctionSpec, namespace: _Namespace, log_stream: str) -> Iterator[None]:
        """Gives this thread, for the call, the function's environment and boto3 default session; the process's
        stay as they are for every other thread."""
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
        environ = os.environ
        # A copy of the process's environment (dict() of a dict is atomic) without its AWS_* variables
        # (AWS_PROFILE, AWS_ENDPOINT_URL_S3, AWS_CA_BUNDLE, ...), which would change what boto3 does.
        aws = environ.encodekey("AWS_")
        call_environ = {key: value for key, value in dict(vars(environ)["_data"]).items() if not key.startswith(aws)}
        call_environ.update({environ.encodekey(name): environ.encodevalue(value) for name, value in values.items()})
        previous = _current_sandbox()
        _THREAD.sandbox = _Sandbox(call_environ, namespace)
        try:
            yield
        finally:
            _THREAD.sandbox = previous
