"""One deployment of the app per stack configuration, shared by every e2e test that asks for that configuration.

A deployment (synthesis of the CDK app, then deploying it into the local AWS) takes seconds; the tests of one
configuration, in whichever module, share it and isolate themselves by keys of their own
(deployed_stack.unique_key). moto's state and the glue of the local AWS are process-wide, so one deployment runs at a
time in a process: the tests of one configuration run one after the other (sorted so, and kept on one xdist worker
by their group), and a deployment is closed as soon as the next test does not use it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from doverunner_local.stack import LocalPipelineStack

E2E = Path(__file__).resolve().parent


@dataclass(frozen=True)
class StackConfig:
    """How the app is deployed: the local DoveRunner's step, the region, and context on top of the local one."""

    fixture: str  # the fixture that gives tests this deployment
    step_seconds: float = 0.1
    region: str = "us-east-1"
    context: Mapping[str, Any] = field(default_factory=dict)

    def start(self) -> LocalPipelineStack:
        return LocalPipelineStack(
            step_seconds=self.step_seconds, region=self.region, context=dict(self.context)
        ).start()


# The app as the demo deploys it.
DEFAULT = StackConfig("local")
# Waits long enough that polling alone would be slow: only DoveRunner's notification makes a report come quickly.
# A detection takes four steps: the first Check (right after the upload) finds it running, then waits up to 120 s.
NOTIFICATION_WAKES = StackConfig(
    "local_waiting_long",
    step_seconds=1.0,
    context={
        "doverunner:initialWaitSeconds": 30,
        "doverunner:maxWaitSeconds": 60,
        "doverunner:notifiedPollSeconds": 120,
    },
)
# Outside us-east-1: the CloudFront web ACL is made in us-east-1 by a custom resource.
OTHER_REGION = StackConfig("local_in_eu_west_1", region="eu-west-1")
# Deployments of their own for the tests that pause submissions: the pause, the quota and the secret are the
# stack's, and the functions cache the secret (a fresh deployment reads it first after the test sets it).
QUOTA = StackConfig("local_for_quota")
CREDENTIALS = StackConfig("local_for_credentials")
CONFIGS = {config.fixture: config for config in (DEFAULT, NOTIFICATION_WAKES, OTHER_REGION, QUOTA, CREDENTIALS)}


class Deployments:
    """The one running deployment of this process, and its configuration."""

    def __init__(self) -> None:
        self.config: StackConfig | None = None
        self.stack: LocalPipelineStack | None = None
        self.failures: dict[str, BaseException] = {}  # by fixture: a deployment that failed is not tried again

    def get(self, config: StackConfig) -> LocalPipelineStack:
        if config.fixture in self.failures:
            raise RuntimeError(f"the {config.fixture} deployment failed earlier") from self.failures[config.fixture]
        if self.stack is None or self.config != config:
            self.close()
            try:
                self.stack = config.start()
            except Exception as error:
                self.failures[config.fixture] = error
                raise
            self.config = config
        return self.stack

    def close(self) -> None:
        if self.stack is not None:
            self.stack.close()
        self.stack = self.config = None


DEPLOYMENTS = pytest.StashKey[Deployments]()


def config_of(item: pytest.Item) -> StackConfig | None:
    """The deployment a test uses (through its fixtures too), if any."""
    used = [CONFIGS[name] for name in getattr(item, "fixturenames", ()) if name in CONFIGS]
    if len(used) > 1:
        raise pytest.UsageError(f"{item.nodeid} uses two deployments; one runs at a time in a process")
    return used[0] if used else None


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The tests of one deployment next to each other, and on one xdist worker."""
    order = list(CONFIGS.values())

    def rank(item: pytest.Item) -> int:
        used = config_of(item)
        return order.index(used) if used else len(order)

    positions = [i for i, item in enumerate(items) if item.path.resolve().is_relative_to(E2E)]
    for position, item in zip(positions, sorted((items[i] for i in positions), key=rank), strict=True):
        items[position] = item
    if config.pluginmanager.hasplugin("xdist"):
        for item in items:
            if (used := config_of(item)) is not None:
                item.add_marker(pytest.mark.xdist_group(f"e2e-deployment-{used.fixture}"))


@pytest.fixture(scope="session")
def deployments(pytestconfig: pytest.Config) -> Iterator[Deployments]:
    running = pytestconfig.stash[DEPLOYMENTS] = Deployments()
    yield running
    running.close()


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """A deployment is closed once the next test does not use it: the next may start another local AWS."""
    running = item.config.stash.get(DEPLOYMENTS, None)
    if (
        running is not None
        and running.config is not None
        and (nextitem is None or config_of(nextitem) != running.config)
    ):
        running.close()


@pytest.fixture
def local(deployments: Deployments) -> LocalPipelineStack:
    """The app as the demo deploys it, with the local DoveRunner behind it."""
    return deployments.get(DEFAULT)


@pytest.fixture
def local_waiting_long(deployments: Deployments) -> LocalPipelineStack:
    """The app with a first wait of 30 s (DoveRunner's step: 1 s), so that a report within seconds of DoveRunner's
    end can only come from its notification waking the job."""
    return deployments.get(NOTIFICATION_WAKES)


@pytest.fixture
def local_in_eu_west_1(deployments: Deployments) -> LocalPipelineStack:
    """The app deployed in eu-west-1."""
    return deployments.get(OTHER_REGION)


@pytest.fixture
def local_for_quota(deployments: Deployments) -> LocalPipelineStack:
    """The app, for a test that runs the local DoveRunner's detection quota out."""
    return deployments.get(QUOTA)


@pytest.fixture
def local_for_credentials(deployments: Deployments) -> LocalPipelineStack:
    """The app, for a test that fills the DoveRunner secret with wrong credentials."""
    return deployments.get(CREDENTIALS)
