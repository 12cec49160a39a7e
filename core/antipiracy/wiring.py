"""The one place the functions' collaborators are built: AWS clients, adapters and services, each made once per
Lambda process (antipiracy.process_cache) and reused by warm invocations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools.utilities import parameters
from botocore.config import Config

from antipiracy.config import (
    PipelineConfig,
    ProberConfig,
    RegistrarConfig,
    RevocationConfig,
    config,
    prober_config,
    revocation_config,
)
from antipiracy.process_cache import latest, once

# Each factory imports its adapters and services itself: a function loads only what it builds (the lifter no
# DoveRunner client, the reporter no submitter), which keeps its cold start near the floor (docs/cold-start.md).
if TYPE_CHECKING:
    from antipiracy.adapters.http_media import HttpMedia
    from antipiracy.adapters.jobs_table import JobsTable
    from antipiracy.adapters.messaging import SnsOperatorAlerts, SnsResultsTopic, SqsDeadLetters
    from antipiracy.adapters.s3_objects import S3Objects
    from antipiracy.adapters.step_functions import StepFunctionsExecutions
    from antipiracy.adapters.waf_blocker import SessionBlocker
    from antipiracy.adapters.web_acls import WebAclManager
    from antipiracy.services.holds import Holds
    from antipiracy.services.register import Registrar
    from antipiracy.services.report import Reports
    from antipiracy.services.revoke import Revoker
    from antipiracy.services.submit import Submitter
    from doverunner import ClientConfig, Credentials, DoveRunnerClient

SECRET_MAX_AGE_SECONDS = 300
SECRET_FIELDS = ("site_key", "access_key", "account_id")

# ---- AWS clients ----------------------------------------------------------------------------------------------


@once
def _s3() -> Any:
    # SigV4, so presigned URLs work in every region.
    return boto3.client("s3", config=Config(signature_version="s3v4"))


@once
def _sfn() -> Any:
    return boto3.client("stepfunctions")


@once
def _sns() -> Any:
    return boto3.client("sns")


@once
def _dynamodb() -> Any:
    return boto3.resource("dynamodb")


# ---- the DoveRunner client --------------------------------------------------------------------------------------


def doverunner_client(
    settings: PipelineConfig | RevocationConfig | RegistrarConfig | ProberConfig | None = None, *, fresh: bool = False
) -> DoveRunnerClient:
    """A client with the credentials from the secret (cached for a few minutes, so a filled or rotated secret
    is picked up without a deploy; `fresh`: read it now). `settings`: the calling function's configuration, the
    detection one's by default."""
    from doverunner import ClientConfig, ConfigurationError, Credentials

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
    client_config = ClientConfig(site_id=settings.site_id, api_url=settings.api_url, service=settings.default_service)
    return _client(client_config, credentials)


@latest
def _client(client_config: ClientConfig, credentials: Credentials) -> DoveRunnerClient:
    """One client (its token cache, its connections) while the settings and credentials stay the same."""
    from doverunner import DoveRunnerClient

    return DoveRunnerClient(client_config, credentials)


# ---- detection: submit, track, report ------------------------------------------------------------------------


@once
def jobs() -> JobsTable:
    from antipiracy.adapters.jobs_table import JobsTable

    return JobsTable(_dynamodb().Table(config().jobs_table))


@once
def objects() -> S3Objects:
    from antipiracy.adapters.s3_objects import S3Objects

    return S3Objects(_s3())


@once
def executions() -> StepFunctionsExecutions:
    from antipiracy.adapters.step_functions import StepFunctionsExecutions

    return StepFunctionsExecutions(_sfn(), config().state_machine_arn)


@once
def reports() -> Reports:
    from antipiracy.services.report import Reports

    return Reports(objects(), config().results_prefix)


@once
def results_topic() -> SnsResultsTopic | None:
    from antipiracy.adapters.messaging import SnsResultsTopic

    arn = config().results_topic_arn
    return SnsResultsTopic(_sns(), arn) if arn else None


@once
def operator_alerts() -> SnsOperatorAlerts | None:
    from antipiracy.adapters.messaging import SnsOperatorAlerts

    arn = config().operator_topic_arn
    return SnsOperatorAlerts(_sns(), arn) if arn else None


def submitter() -> Submitter:
    from antipiracy.services.holds import Holds
    from antipiracy.services.submit import Submitter

    return Submitter(
        objects=objects(),
        jobs=jobs(),
        executions=executions(),
        client_factory=doverunner_client,
        config=config(),
        results=results_topic(),
        holds=Holds(jobs(), alerts=operator_alerts()),
        remote_media=remote_media(),
    )


@once
def remote_media() -> HttpMedia:
    """URL requests' videos, read in ranges for the pre-flight check (one connection pool per process)."""
    from antipiracy.adapters.http_media import HttpMedia

    return HttpMedia()


# ---- the probe of paused submissions -------------------------------------------------------------------------


@once
def prober_holds() -> Holds:
    from antipiracy.adapters.jobs_table import JobsTable
    from antipiracy.adapters.messaging import SqsRetryRequests
    from antipiracy.services.holds import Holds

    settings = prober_config()
    return Holds(
        JobsTable(_dynamodb().Table(settings.jobs_table)),
        retries=SqsRetryRequests(boto3.client("sqs"), settings.ingest_queue_url),
    )


@once
def waker_executions() -> StepFunctionsExecutions:
    """Step Functions for ending waits (the tracker's own, a notification's): no state machine needed."""
    from antipiracy.adapters.step_functions import StepFunctionsExecutions

    return StepFunctionsExecutions(_sfn())


# ---- revocation --------------------------------------------------------------------------------------------------


@once
def revocation_jobs() -> JobsTable:
    from antipiracy.adapters.jobs_table import JobsTable

    return JobsTable(_dynamodb().Table(revocation_config().jobs_table))


@once
def blocker() -> SessionBlocker:
    from antipiracy.adapters.waf_blocker import SessionBlocker
    from antipiracy.domain.waf_rules import WafTarget

    settings = revocation_config()
    target = WafTarget(
        web_acl_name=settings.web_acl_name,
        web_acl_id=settings.web_acl_id,
        region=settings.waf_region,
        capacity_limit=settings.waf_capacity,
    )
    # CloudFront-scope web ACLs are managed through us-east-1, whatever region the stack is in.
    return SessionBlocker(boto3.client("wafv2", region_name=settings.waf_region), target)


@once
def dead_letters() -> SqsDeadLetters:
    from antipiracy.adapters.messaging import SqsDeadLetters

    return SqsDeadLetters(boto3.client("sqs"), revocation_config().dead_letter_queue_url)


@once
def revoker() -> Revoker:
    from antipiracy.adapters.ledger_table import LedgerTable
    from antipiracy.services.report import Reports
    from antipiracy.services.revoke import Revoker
    from antipiracy.services.wake import Waker

    settings = revocation_config()
    jobs = revocation_jobs()
    return Revoker(
        ledger=LedgerTable(_dynamodb().Table(settings.ledger_table)),
        client_factory=lambda: doverunner_client(settings),
        blocker=blocker(),
        site_id=settings.site_id,
        jobs=jobs,
        block_seconds=settings.block_seconds,
        reports=Reports(objects(), settings.results_prefix),
        waker=Waker(jobs, waker_executions()),
    )


# ---- custom resources ----------------------------------------------------------------------------------------


def registrar() -> Registrar:
    from antipiracy.services.register import Registrar, publisher_keys_from

    # Read at each request: the operator fills the secret between two deploys, a warm function must see it.
    settings = RegistrarConfig.from_env()
    return Registrar(
        client=lambda: doverunner_client(settings, fresh=True),
        publisher_keys=lambda secret_id: publisher_keys_from(
            parameters.get_secret(secret_id, transform="json", force_fetch=True), secret_id
        ),
    )


def web_acl_manager() -> WebAclManager:
    from antipiracy.adapters.web_acls import WebAclManager
    from antipiracy.domain.web_acls import WAF_REGION

    return WebAclManager(boto3.client("wafv2", region_name=WAF_REGION))
