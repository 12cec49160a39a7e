"""The functions' collaborators, made once per Lambda process and reused by warm invocations."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities import parameters
from botocore.config import Config

from doverunner import ClientConfig, ConfigurationError, Credentials, DoveRunnerClient
from pipeline.config import config
from pipeline.jobs import JobStore

SECRET_MAX_AGE_SECONDS = 300
SECRET_FIELDS = ("site_key", "access_key", "account_id")


@cache
def s3() -> Any:
    # SigV4, so presigned URLs work in every region.
    return boto3.client("s3", config=Config(signature_version="s3v4"))


@cache
def sfn() -> Any:
    return boto3.client("stepfunctions")


@cache
def sns() -> Any:
    return boto3.client("sns")


@cache
def jobs() -> JobStore:
    return JobStore(boto3.resource("dynamodb").Table(config().jobs_table))


_clients: dict[tuple[str, ...], DoveRunnerClient] = {}


def doverunner_client() -> DoveRunnerClient:
    """A client with the credentials from the secret (cached for a few minutes, so a filled or rotated secret
    is picked up without a deploy)."""
    settings = config()
    secret = parameters.get_secret(settings.secret_id, transform="json", max_age=SECRET_MAX_AGE_SECONDS)
    if not isinstance(secret, dict):
        raise ConfigurationError(f"the DoveRunner secret {settings.secret_id} is not a JSON object")
    missing = [name for name in SECRET_FIELDS if not secret.get(name)]
    if missing:
        raise ConfigurationError(
            f"the DoveRunner secret {settings.secret_id} has no {', '.join(missing)}: "
            'fill it with {"site_key": ..., "access_key": ..., "account_id": ...}'
        )
    credentials = Credentials(
        site_key=str(secret["site_key"]),
        access_key=str(secret["access_key"]),
        account_id=str(secret["account_id"]),
        account_access_key=str(secret.get("account_access_key") or "") or None,
    )
    key = (settings.site_id, settings.api_url, *(getattr(credentials, name) for name in SECRET_FIELDS))
    if key not in _clients:
        _clients.clear()
        client_config = ClientConfig(
            site_id=settings.site_id, api_url=settings.api_url, service=settings.default_service
        )
        _clients[key] = DoveRunnerClient(client_config, credentials)
    return _clients[key]
