"""The functions' configuration, read once from the environment and validated."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from antipiracy.process_cache import once
from doverunner.codes import service_code

SINGLE_PUT_LIMIT = 5 * 1024**3  # the largest object one signed PUT can take


class ConfigError(RuntimeError):
    """A missing or invalid setting; the message names it."""


def _get(env: Mapping[str, str], name: str, default: str | None = None) -> str:
    value = env.get(name, default)
    if value is None or value == "":
        raise ConfigError(f"missing environment variable {name}")
    return value


def _number(env: Mapping[str, str], name: str, default: str) -> float:
    text = _get(env, name, default)
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {text!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {text!r}")
    return value


@dataclass(frozen=True)
class PipelineConfig:
    jobs_table: str
    secret_id: str
    site_id: str
    api_url: str
    default_service: str
    inbox_prefix: str
    results_prefix: str
    state_machine_arn: str
    results_topic_arn: str
    url_detection_threshold: int
    force_url_detection: bool
    presigned_url_seconds: int
    initial_wait_seconds: int
    max_wait_seconds: int
    wait_growth: float
    max_tracking_seconds: int
    find_upload_seconds: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PipelineConfig:
        env = os.environ if env is None else env
        try:
            service = service_code(_get(env, "DOVERUNNER_DEFAULT_SERVICE", "FWM"))
        except ValueError as exc:
            raise ConfigError(f"DOVERUNNER_DEFAULT_SERVICE: {exc}") from None
        initial = int(_number(env, "INITIAL_WAIT_SECONDS", "30"))
        maximum = int(_number(env, "MAX_WAIT_SECONDS", "900"))
        if initial < 1 or maximum < initial:
            raise ConfigError("INITIAL_WAIT_SECONDS must be at least 1 and at most MAX_WAIT_SECONDS")
        return cls(
            jobs_table=_get(env, "JOBS_TABLE"),
            secret_id=_get(env, "DOVERUNNER_SECRET_ID"),
            site_id=_get(env, "DOVERUNNER_SITE_ID"),
            api_url=_get(env, "DOVERUNNER_API_URL", "https://api.pallycon.com"),
            default_service=service,
            inbox_prefix=_get(env, "INBOX_PREFIX", "inbox/"),
            results_prefix=_get(env, "RESULTS_PREFIX", "results/"),
            state_machine_arn=env.get("STATE_MACHINE_ARN", ""),
            results_topic_arn=env.get("RESULTS_TOPIC_ARN", ""),
            url_detection_threshold=int(_number(env, "URL_DETECTION_THRESHOLD_BYTES", str(SINGLE_PUT_LIMIT))),
            force_url_detection=_get(env, "FORCE_URL_DETECTION", "false").lower() == "true",
            presigned_url_seconds=int(_number(env, "PRESIGNED_URL_SECONDS", "43200")),
            initial_wait_seconds=initial,
            max_wait_seconds=maximum,
            wait_growth=_number(env, "WAIT_GROWTH", "2"),
            max_tracking_seconds=int(_number(env, "MAX_TRACKING_SECONDS", str(7 * 24 * 3600))),
            find_upload_seconds=int(_number(env, "FIND_UPLOAD_SECONDS", "1800")),
        )


@once
def config() -> PipelineConfig:
    """The configuration of this process (a Lambda's cold start reads it once)."""
    return PipelineConfig.from_env()


@once
def jobs_table() -> str:
    """The jobs table's name, for a function that needs no other setting (the waiter)."""
    return _get(os.environ, "JOBS_TABLE")


@dataclass(frozen=True)
class RevocationConfig:
    """What the revocation functions read: the ledger, the web ACL and how long a block lasts."""

    ledger_table: str
    jobs_table: str
    secret_id: str
    site_id: str
    api_url: str
    web_acl_name: str
    web_acl_id: str
    waf_region: str
    waf_capacity: int
    dead_letter_queue_url: str
    block_seconds: int  # 0: blocks never expire
    default_service: str = "PD002"
    results_prefix: str = "results/"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RevocationConfig:
        env = os.environ if env is None else env
        return cls(
            ledger_table=_get(env, "LEDGER_TABLE"),
            jobs_table=_get(env, "JOBS_TABLE"),
            secret_id=_get(env, "DOVERUNNER_SECRET_ID"),
            site_id=_get(env, "DOVERUNNER_SITE_ID"),
            api_url=_get(env, "DOVERUNNER_API_URL", "https://api.pallycon.com"),
            web_acl_name=_get(env, "WEB_ACL_NAME"),
            web_acl_id=_get(env, "WEB_ACL_ID"),
            waf_region=_get(env, "WAF_REGION", "us-east-1"),
            waf_capacity=int(_number(env, "WAF_CAPACITY", "1500")),
            dead_letter_queue_url=env.get("DEAD_LETTER_QUEUE_URL", ""),
            block_seconds=int(_number(env, "BLOCK_SECONDS", "0")),
            results_prefix=_get(env, "RESULTS_PREFIX", "results/"),
        )


@once
def revocation_config() -> RevocationConfig:
    return RevocationConfig.from_env()


@dataclass(frozen=True)
class RegistrarConfig:
    """What the registrar (the custom resource that registers the revocation topic) reads: DoveRunner's site, API
    and credentials secret; the topic and the publisher secret come with each request."""

    secret_id: str
    site_id: str
    api_url: str
    default_service: str = "PD002"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RegistrarConfig:
        env = os.environ if env is None else env
        return cls(
            secret_id=_get(env, "DOVERUNNER_SECRET_ID"),
            site_id=_get(env, "DOVERUNNER_SITE_ID"),
            api_url=_get(env, "DOVERUNNER_API_URL", "https://api.pallycon.com"),
        )
