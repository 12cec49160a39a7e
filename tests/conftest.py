"""Shared fixtures: one local DoveRunner per test session, reset before each test, and clients for it."""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from doverunner import ClientConfig, Credentials, DoveRunnerClient
from doverunner.auth import clear_token_cache
from doverunner_cli.main import main as cli_main
from doverunner_local.config import EmulatorConfig, Faults
from doverunner_local.samples import make_sample, write_sample
from doverunner_local.server import LocalDoveRunner

STEP_SECONDS = 0.02


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
    clear_token_cache()
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
    """Makes a sample video in the test's folder: sample("x.mp4", mark=..., fail=..., size=...)."""

    def make(name: str, *, size: int = 64 * 1024, mark: str | None = None, fail: str | None = None) -> Path:
        return make_sample(tmp_path / name, size, mark=mark, fail=fail)

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
    """A sample video in memory: sample_stream("mp4", size=..., mark=..., fail=...)."""

    def make(
        kind: str = "mp4", *, size: int = 64 * 1024, mark: str | None = None, fail: str | None = None
    ) -> io.BytesIO:
        buffer = io.BytesIO()
        write_sample(buffer, kind, size, mark=mark, fail=fail)
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
