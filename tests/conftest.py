"""Shared fixtures: one local DoveRunner and one local AWS (moto server) per test session (per xdist worker), the
local DoveRunner reset before each test; clients for both; every process cache dropped around each test; and each
test marked with its tier by its folder.

Tiers (registered in pyproject.toml): tests/unit/** -> unit (no server, no moto, no socket, no subprocess: `make
test-fast`), tests/e2e/** -> e2e (the synthesized app deployed into the local AWS), everything else -> integration.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aws_clients
import pytest
from aws_clients import REGION, unique_name
from lambda_environment import LambdaEnvironment
from web_acls import WebAcl, create_web_acl

from antipiracy import process_cache
from doverunner import ClientConfig, Credentials, DoveRunnerClient
from doverunner.auth import clear_token_cache
from doverunner_cli.main import main as cli_main
from doverunner_local.config import EmulatorConfig, Faults
from doverunner_local.samples import make_sample, write_sample
from doverunner_local.server import LocalDoveRunner

# botocore looks for credentials at the instance metadata service (169.254.169.254, not an address of this machine)
# when a client is made without any: no test may send traffic there.
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

STEP_SECONDS = 0.02
TESTS = Path(__file__).resolve().parent
# Encoded sample clips are kept with the project's other caches (.cache/, ignored by git), not in the home folder.
os.environ.setdefault("DOVERUNNER_SAMPLES_CACHE", str(TESTS.parent / ".cache" / "samples"))


def tier_of(path: Path) -> str:
    """The tier of a test file, by its folder under tests/."""
    folder = path.resolve().relative_to(TESTS).parts[0]
    return folder if folder in ("unit", "e2e") else "integration"


def fixture_scopes(item: pytest.Item) -> set[str]:
    """The scopes of the fixtures a test uses, its fixtures' own fixtures included."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return set()
    return {definitions[-1].scope for definitions in info.name2fixturedefs.values() if definitions}


def xdist_group(item: pytest.Item) -> str | None:
    """Which tests `--dist loadgroup` keeps on one worker, so that what they share is made once: the CDK synthesis
    of the stack tests, and what a module's tests share (a local AWS, a deployment). None: the test goes alone."""
    relative = item.path.resolve().relative_to(TESTS)
    if relative.parts[0] == "stacks":
        return "cdk-synthesis"
    if "module" in fixture_scopes(item):
        return relative.as_posix()
    return None


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker, and before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    grouping = config.pluginmanager.hasplugin("xdist")
    for item in items:
        item.add_marker(tier_of(item.path))
        if grouping and item.get_closest_marker("xdist_group") is None and (group := xdist_group(item)):
            item.add_marker(pytest.mark.xdist_group(group))


class _XdistGroupIds:
    """What `--dist loadgroup` schedules by: xdist (3.8) puts a test's group into its id by setting `item._nodeid`,
    which this pytest no longer reads (the id is `item._id`). Where xdist's change did not take, this makes it."""

    @pytest.hookimpl(trylast=True)  # after xdist's own
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        if not getattr(config.option, "loadgroup", False):
            return
        from _pytest.nodeid import NodeId

        for item in items:
            groups = sorted({str(mark.args[0]) for mark in item.iter_markers("xdist_group") if mark.args})
            if groups and "@" not in item.nodeid and hasattr(item, "_id"):
                item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(groups)}")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_XdistGroupIds(), "xdist-group-ids")


@pytest.fixture(autouse=True)
def _fresh_process_caches() -> Iterator[None]:
    """Every test starts, and leaves, as a cold Lambda process would: nothing made once (configuration, clients,
    tables, secrets, DoveRunner tokens) carries over. antipiracy.process_cache registers every such cache."""
    process_cache.reset()
    clear_token_cache()
    yield
    process_cache.reset()
    clear_token_cache()


def _test_config() -> EmulatorConfig:
    return EmulatorConfig(step_seconds=STEP_SECONDS)


@pytest.fixture(scope="session")
def _local_server() -> Iterator[LocalDoveRunner]:
    with LocalDoveRunner(_test_config()) as local:
        yield local


@pytest.fixture
def local_doverunner(_local_server: LocalDoveRunner) -> LocalDoveRunner:
    """The local DoveRunner with no detections, default settings and no faults."""
    local = _local_server
    fresh = _test_config()
    for field in dataclasses.fields(fresh):
        setattr(local.config, field.name, getattr(fresh, field.name))
    local.config.faults = Faults()
    local.server.rng.seed(local.config.faults.seed)
    local.emulator.set_publisher(None)
    local.emulator.reset()
    return local


@pytest.fixture
def env(local_doverunner: LocalDoveRunner) -> dict[str, str]:
    return local_doverunner.credentials()


@pytest.fixture
def make_client(env: dict[str, str]) -> Callable[..., DoveRunnerClient]:
    """A client of the local DoveRunner; keyword arguments override credentials (env names) or config fields."""

    def make(env_overrides: dict[str, str] | None = None, **config_overrides: Any) -> DoveRunnerClient:
        values = {**env, **(env_overrides or {})}
        config = ClientConfig.from_mapping(values)
        config = dataclasses.replace(config, backoff_base=0.01, backoff_cap=0.05, **config_overrides)
        return DoveRunnerClient(config, Credentials.from_mapping(values))

    return make


@pytest.fixture
def client(make_client: Callable[..., DoveRunnerClient]) -> DoveRunnerClient:
    return make_client()


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def run_cli(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """Runs `doverunner ARGS` in-process with the local DoveRunner's credentials (overridable)."""

    def run(*args: str, **env_overrides: str) -> CliResult:
        for name, value in {**env, **env_overrides}.items():
            monkeypatch.setenv(name, value)
        out, err = io.StringIO(), io.StringIO()
        code = cli_main(list(args), out=out, err=err)
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


@pytest.fixture
def sample(tmp_path: Path) -> Callable[..., Path]:
    """Makes a sample video in the test's folder: sample("x.mp4", mark=..., fail=..., size=..., short=...); by
    default one DoveRunner can detect on (doverunner_local.samples.COMPLIANT), its padding a hole on disk."""

    def make(
        name: str, *, size: int | None = None, mark: str | None = None, fail: str | None = None, short: bool = False
    ) -> Path:
        return make_sample(tmp_path / name, size, mark=mark, fail=fail, short=short)

    return make


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[str]:
    """An HTTP server for the test's folder: where URL detections download from."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def sample_stream() -> Callable[..., io.BytesIO]:
    """A sample video in memory: sample_stream("mp4", size=..., mark=..., fail=..., short=...); by default one
    DoveRunner can detect on (40 MB)."""

    def make(
        kind: str = "mp4",
        *,
        size: int | None = None,
        mark: str | None = None,
        fail: str | None = None,
        short: bool = False,
    ) -> io.BytesIO:
        buffer = io.BytesIO()
        write_sample(buffer, kind, size, mark=mark, fail=fail, short=short)
        buffer.seek(0)
        return buffer

    return make


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A local AWS (moto server) for SNS and SQS."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_client(moto_endpoint: str) -> Callable[..., Any]:
    """boto3 clients of the local AWS: aws_client("sqs"), aws_client("sns", region="ap-northeast-2")."""

    def make(service: str, region: str = REGION) -> Any:
        return aws_clients.aws_client(moto_endpoint, service, region)

    return make


@pytest.fixture
def aws_resource(moto_endpoint: str) -> Callable[..., Any]:
    """boto3 resources of the local AWS: aws_resource("dynamodb")."""

    def make(service: str, region: str = REGION) -> Any:
        return aws_clients.aws_resource(moto_endpoint, service, region)

    return make


@pytest.fixture
def web_acl(aws_client: Callable[..., Any]) -> WebAcl:
    """An empty CloudFront web ACL of the test's own in the local AWS, as the stack creates it."""
    return create_web_acl(aws_client("wafv2"), unique_name("acl-"))


@pytest.fixture
def moto_wafv2() -> Iterator[Any]:
    """AWS WAF (us-east-1, where CloudFront web ACLs live) of moto in this process, empty, for this test alone."""
    from moto import mock_aws

    with mock_aws():
        yield aws_clients.aws_client(None, "wafv2")


@pytest.fixture
def lambda_env(
    moto_endpoint: str, env: dict[str, str], aws_client: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> LambdaEnvironment:
    """The environment the stack gives every function, pointing at the local AWS and the local DoveRunner, its
    credentials secret filled; a test or fixture adds the function's own variables with `lambda_env.set(...)`."""
    secret = {
        "site_key": env["DOVERUNNER_SITE_KEY"],
        "access_key": env["DOVERUNNER_ACCESS_KEY"],
        "account_id": env["DOVERUNNER_ACCOUNT_ID"],
    }
    secret_arn = aws_client("secretsmanager").create_secret(
        Name=unique_name("creds-"), SecretString=json.dumps(secret)
    )["ARN"]
    environment = LambdaEnvironment({}, secret_arn, monkeypatch)
    environment.set(
        AWS_ENDPOINT_URL=moto_endpoint,
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_ACCESS_KEY_ID="x",
        AWS_SECRET_ACCESS_KEY="y",
        DOVERUNNER_SECRET_ID=secret_arn,
        DOVERUNNER_SITE_ID=env["DOVERUNNER_SITE_ID"],
        DOVERUNNER_API_URL=env["DOVERUNNER_API_URL"],
        # The sample videos are short clips: the pre-flight check warns (its own tests set the policy they test).
        PREFLIGHT="warn",
        POWERTOOLS_METRICS_NAMESPACE="Test",
        POWERTOOLS_TRACE_DISABLED="true",
    )
    return environment
