"""boto3 clients of a local AWS reached by its endpoint (the moto server of tests/conftest.py's `moto_endpoint`), and
unique names, so that the tests sharing one moto server never see each other's resources."""

from __future__ import annotations

import uuid
from typing import Any

import boto3

REGION = "us-east-1"
# moto takes any keys; fixed ones keep a developer's own credentials out of the tests.
KEYS = {"aws_access_key_id": "x", "aws_secret_access_key": "y"}


def aws_client(endpoint: str | None, service: str, region: str = REGION) -> Any:
    """A client of the AWS at `endpoint`; None: AWS's own endpoints, which moto in-process (mock_aws) intercepts."""
    return boto3.client(service, region_name=region, endpoint_url=endpoint, **KEYS)


def aws_resource(endpoint: str | None, service: str, region: str = REGION) -> Any:
    return boto3.resource(service, region_name=region, endpoint_url=endpoint, **KEYS)


def unique_name(prefix: str) -> str:
    """`prefix` and 10 random hex digits: a name no other test uses."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"
