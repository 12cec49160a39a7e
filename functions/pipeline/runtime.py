"""The functions' collaborators, made once per Lambda process and reused by warm invocations."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities import parameters
from botocore.config import Config

from doverunner import ClientConfig, ConfigurationError, Credentials, DoveRunnerClient
from pipeline.config import PipelineConfig, RegistrarConfig, RevocationConfig, config, jobs_table, revocation_config
from pipeline.jobs import JobStore
from pipeline.registration import Registrar, publisher_keys_from
from pipeline.revocation import Ledger, NoRoom, Revoker
from pipeline.waf import CapacityExceeded, SessionBlocker, WafTarget
from pipeline.waking import Waker

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


def doverunner_client(
    settings: PipelineConfig | RevocationConfig | RegistrarConfig | None = None, *, fresh: bool = False
) -> DoveRunnerClient:
    """A client with the credentials from the secret (cached for a few minutes, so a filled or rotated secret
    is picked up without a deploy; `fresh`: read it now). `settings`: the calling function's configuration, the
    detection one's by default."""
    settings = settings or config()
    secret = parameters.get_secret(
        settings.secret_id, transform="json", max_age=SECRET_MAX_AGE_SECONDS, force_fetch=fresh
    )
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


@cache
def sqs() -> Any:
    return boto3.client("sqs")


@cache
def waiter_jobs() -> JobStore:
    """The jobs table for the waiter, which is given nothing else."""
    return JobStore(boto3.resource("dynamodb").Table(jobs_table()))


@cache
def revocation_jobs() -> JobStore:
    return JobStore(boto3.resource("dynamodb").Table(revocation_config().jobs_table))


@cache
def blocker() -> RevocationBlocker:
    settings = revocation_config()
    target = WafTarget(
        web_acl_name=settings.web_acl_name,
        web_acl_id=settings.web_acl_id,
        region=settings.waf_region,
        capacity_limit=settings.waf_capacity,
    )
    # CloudFront-scope web ACLs are managed through us-east-1, whatever region the stack is in.
    return RevocationBlocker(SessionBlocker(boto3.client("wafv2", region_name=settings.waf_region), target))


def revoker() -> Revoker:
    settings = revocation_config()
    jobs = revocation_jobs()
    return Revoker(
        ledger=Ledger(boto3.resource("dynamodb").Table(settings.ledger_table)),
        client_factory=lambda: doverunner_client(settings),
        blocker=blocker(),
        find_job=jobs.find_by_detection,
        update_job=jobs.update,
        block_seconds=settings.block_seconds,
        rewrite_report=_rewrite_report,
        wake_job=Waker(jobs, sfn()).wake,
    )


def registrar() -> Registrar:
    # Read at each request: the operator fills the secret between two deploys, a warm function must see it.
    settings = RegistrarConfig.from_env()
    return Registrar(
        client=lambda: doverunner_client(settings, fresh=True),
        publisher_keys=lambda secret_id: publisher_keys_from(
            parameters.get_secret(secret_id, transform="json", force_fetch=True), secret_id
        ),
    )


def _rewrite_report(job: dict[str, Any]) -> None:
    from pipeline.jobs import JobState
    from pipeline.reporting import write_report

    write_report(s3(), revocation_config().results_prefix, job, JobState(job["state"]), str(job.get("reason") or ""))


class RevocationBlocker:
    """The WAF engine as the revoker sees it: no room is NoRoom, whatever the engine calls it."""

    def __init__(self, engine: SessionBlocker) -> None:
        self.engine = engine

    def block(self, tokens: list[str]) -> object:
        try:
            return self.engine.block(tokens)
        except CapacityExceeded as exc:
            raise NoRoom(str(exc)) from exc

    def unblock(self, tokens: list[str]) -> object:
        return self.engine.unblock(tokens)
