"""One synthesis of the fixture app and one deployment of it into a local AWS, shared by the module that uses it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from doverunner_local.aws import LocalAws, LocalDeployment

from .fixture_app import STACK_NAME, synthesize


@pytest.fixture(scope="session")
def fixture_cdk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture app synthesized into a cloud assembly, as `CDK_OUTDIR=... python app.py` would."""
    root = tmp_path_factory.mktemp("fixture-app")
    return synthesize(root / "cdk.out", root / "code")


@pytest.fixture(scope="module")
def local_aws() -> Iterator[LocalAws]:
    with LocalAws() as aws:
        yield aws


@pytest.fixture(scope="module")
def deployment(local_aws: LocalAws, fixture_cdk_out: Path) -> Iterator[LocalDeployment]:
    deployed = local_aws.deploy(fixture_cdk_out, STACK_NAME, timeout=60)
    yield deployed
    deployed.close()
