"""The functions' configuration, read once from the environment and validated.

Each setting is a dataclass field whose metadata names its environment variable (antipiracy.environment, the contract
the stacks are checked against) and the value it takes when the variable is not set; one `from_env` reads them all.
A settings class that reads other variables than its entry in the contract fails at import.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields
from typing import Any, ClassVar, Self, TypeVar

from antipiracy import environment as names
from antipiracy.domain.preflight import Policy, policy_of
from antipiracy.environment import FUNCTIONS, SettingsVariables
from antipiracy.process_cache import once
from doverunner.codes import service_code
from doverunner.config import DEFAULT_API_URL

SINGLE_PUT_LIMIT = 5 * 1024**3  # the largest object one signed PUT can take


class ConfigError(RuntimeError):
    """A missing or invalid setting; the message names it."""


def _get(env: Mapping[str, str], name: str, default: str | None = None) -> str:
    value = env.get(name, default)
    if value is None or value == "":
        raise ConfigError(f"missing environment variable {name}")
    return value


def _number(env: Mapping[str, str], name: str, default: str | None) -> float:
    text = _get(env, name, default)
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {text!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {text!r}")
    return value


def _policy(env: Mapping[str, str], name: str, default: str | None) -> Policy:
    try:
        return policy_of(_get(env, name, default), Policy.ENFORCE)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None


def _service(env: Mapping[str, str], name: str, default: str | None) -> str:
    try:
        return service_code(_get(env, name, default))
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None


Parser = Callable[[Mapping[str, str], str, str | None], Any]
# How a field is read, by its annotation (a string: annotations are not evaluated here).
_PARSERS: dict[str, Parser] = {
    "str": _get,
    "int": lambda env, name, default: int(_number(env, name, default)),
    "float": _number,
    "bool": lambda env, name, default: _get(env, name, default).lower() == "true",
}
_SOURCE = "environment"


@dataclass(frozen=True)
class _Source:
    """Where a field comes from: its variable and the text it takes when unset (None: required; "": optional, may
    stay unset or empty)."""

    variable: str
    default: str | None
    parse: Parser | None

    def read(self, env: Mapping[str, str], annotation: str | type[Any]) -> Any:
        if self.default == "":
            return env.get(self.variable, "")
        parse = self.parse or _PARSERS[annotation if isinstance(annotation, str) else annotation.__name__]
        return parse(env, self.variable, self.default)


def _from(variable: str, default: str | None = None, parse: Parser | None = None) -> dict[str, _Source]:
    """A field's metadata: read from `variable`, `default` when it is not set; parsed by the field's type unless
    `parse` says otherwise."""
    return {_SOURCE: _Source(variable, default, parse)}


class _FromEnvironment:
    """Settings read from the environment: `from_env` reads every field that names a variable."""

    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        env = os.environ if env is None else env
        values = {f.name: f.metadata[_SOURCE].read(env, f.type) for f in fields(cls) if _SOURCE in f.metadata}
        settings = cls(**values)
        settings._validate()
        return settings

    def _validate(self) -> None:
        """Checks across fields, once they are read."""


_SETTINGS: dict[str, type[_FromEnvironment]] = {}
T = TypeVar("T", bound=type[_FromEnvironment])


def _contract(entry: SettingsVariables) -> Callable[[T], T]:
    """Binds a settings class to its entry in the environment contract; refuses one that reads other variables."""

    def bind(cls: T) -> T:
        sources = [f.metadata[_SOURCE] for f in fields(cls) if _SOURCE in f.metadata]
        read = frozenset(s.variable for s in sources)
        optional = frozenset(s.variable for s in sources if s.default == "")
        if (cls.__name__, read, optional) != (entry.settings, entry.variables, entry.optional):
            raise TypeError(
                f"{cls.__name__} reads {sorted(read)} (optional: {sorted(optional)}); antipiracy.environment says "
                f"{entry.settings} reads {sorted(entry.variables)} (optional: {sorted(entry.optional)})"
            )
        _SETTINGS[entry.settings] = cls
        return cls

    return bind


@_contract(names.PIPELINE)
@dataclass(frozen=True)
class PipelineConfig(_FromEnvironment):
    jobs_table: str = field(metadata=_from(names.JOBS_TABLE))
    secret_id: str = field(metadata=_from(names.DOVERUNNER_SECRET_ID))
    site_id: str = field(metadata=_from(names.DOVERUNNER_SITE_ID))
    api_url: str = field(metadata=_from(names.DOVERUNNER_API_URL, DEFAULT_API_URL))
    default_service: str = field(metadata=_from(names.DOVERUNNER_DEFAULT_SERVICE, "FWM", _service))
    inbox_prefix: str = field(metadata=_from(names.INBOX_PREFIX, "inbox/"))
    results_prefix: str = field(metadata=_from(names.RESULTS_PREFIX, "results/"))
    state_machine_arn: str = field(metadata=_from(names.STATE_MACHINE_ARN, ""))
    results_topic_arn: str = field(metadata=_from(names.RESULTS_TOPIC_ARN, ""))
    url_detection_threshold: int = field(metadata=_from(names.URL_DETECTION_THRESHOLD_BYTES, str(SINGLE_PUT_LIMIT)))
    force_url_detection: bool = field(metadata=_from(names.FORCE_URL_DETECTION, "false"))
    presigned_url_seconds: int = field(metadata=_from(names.PRESIGNED_URL_SECONDS, "43200"))
    initial_wait_seconds: int = field(metadata=_from(names.INITIAL_WAIT_SECONDS, "30"))
    max_wait_seconds: int = field(metadata=_from(names.MAX_WAIT_SECONDS, "900"))
    # The safety net's poll (the Check step's time-out less the function's own time): the longest a tracked job
    # goes without a check. A wait as long is a wait a notification ends (services/track.check_and_wait).
    poll_seconds: int = field(metadata=_from(names.POLL_SECONDS, "900"))
    # DoveRunner's notifications reach this stack: once a detection is known, only the safety net polls.
    notifications_registered: bool = field(metadata=_from(names.NOTIFICATIONS_REGISTERED, "false"))
    wait_growth: float = field(metadata=_from(names.WAIT_GROWTH, "2"))
    max_tracking_seconds: int = field(metadata=_from(names.MAX_TRACKING_SECONDS, str(7 * 24 * 3600)))
    find_upload_seconds: int = field(metadata=_from(names.FIND_UPLOAD_SECONDS, "1800"))
    # Requests by file (domain/detection_requests.py): where they are dropped, how much one file may hold.
    requests_prefix: str = field(metadata=_from(names.REQUESTS_PREFIX, "inbox/requests/"))
    max_request_lines: int = field(metadata=_from(names.MAX_REQUEST_LINES, "1000"))
    max_request_bytes: int = field(metadata=_from(names.MAX_REQUEST_BYTES, str(1024 * 1024)))
    live_max_seconds: int = field(metadata=_from(names.LIVE_MAX_SECONDS, "3600"))
    operator_topic_arn: str = field(metadata=_from(names.OPERATOR_TOPIC_ARN, ""))
    # What a video DoveRunner cannot read gets before any detection is spent (domain/preflight.py).
    preflight: Policy = field(metadata=_from(names.PREFLIGHT, "enforce", _policy))

    def _validate(self) -> None:
        if self.initial_wait_seconds < 1 or self.max_wait_seconds < self.initial_wait_seconds:
            raise ConfigError(f"{names.INITIAL_WAIT_SECONDS} must be at least 1 and at most {names.MAX_WAIT_SECONDS}")
        if self.poll_seconds < self.max_wait_seconds or (
            self.notifications_registered and self.poll_seconds == self.max_wait_seconds
        ):
            # With notifications, a wait as long as the poll is a wait for one: the growing waits must stay shorter.
            raise ConfigError(
                f"{names.POLL_SECONDS} must be at least {names.MAX_WAIT_SECONDS}, "
                f"and longer with {names.NOTIFICATIONS_REGISTERED}"
            )
        if not self.requests_prefix.startswith(self.inbox_prefix) or self.requests_prefix == self.inbox_prefix:
            raise ConfigError(
                f"{names.REQUESTS_PREFIX} ({self.requests_prefix!r}) must be a folder under {names.INBOX_PREFIX} "
                f"({self.inbox_prefix!r}): the inbox's events are what brings the requests"
            )
        if not 1 <= self.live_max_seconds <= self.max_tracking_seconds:
            raise ConfigError(f"{names.LIVE_MAX_SECONDS} must be between 1 and {names.MAX_TRACKING_SECONDS}")


@once
def config() -> PipelineConfig:
    """The configuration of this process (a Lambda's cold start reads it once)."""
    return PipelineConfig.from_env()


@_contract(names.REVOCATION)
@dataclass(frozen=True)
class RevocationConfig(_FromEnvironment):
    """What the revocation functions read: the ledger, the web ACL and how long a block lasts."""

    ledger_table: str = field(metadata=_from(names.LEDGER_TABLE))
    jobs_table: str = field(metadata=_from(names.JOBS_TABLE))
    secret_id: str = field(metadata=_from(names.DOVERUNNER_SECRET_ID))
    site_id: str = field(metadata=_from(names.DOVERUNNER_SITE_ID))
    api_url: str = field(metadata=_from(names.DOVERUNNER_API_URL, DEFAULT_API_URL))
    web_acl_name: str = field(metadata=_from(names.WEB_ACL_NAME))
    web_acl_id: str = field(metadata=_from(names.WEB_ACL_ID))
    waf_region: str = field(metadata=_from(names.WAF_REGION, "us-east-1"))
    waf_capacity: int = field(metadata=_from(names.WAF_CAPACITY, "1500"))
    dead_letter_queue_url: str = field(metadata=_from(names.DEAD_LETTER_QUEUE_URL, ""))
    block_seconds: int = field(metadata=_from(names.BLOCK_SECONDS, "0"))  # 0: blocks never expire
    default_service: str = "PD002"
    results_prefix: str = field(default="results/", metadata=_from(names.RESULTS_PREFIX, "results/"))


@once
def revocation_config() -> RevocationConfig:
    return RevocationConfig.from_env()


@_contract(names.REGISTRAR)
@dataclass(frozen=True)
class RegistrarConfig(_FromEnvironment):
    """What the registrar (the custom resource that registers the revocation topic) reads: DoveRunner's site, API
    and credentials secret; the topic and the publisher secret come with each request."""

    secret_id: str = field(metadata=_from(names.DOVERUNNER_SECRET_ID))
    site_id: str = field(metadata=_from(names.DOVERUNNER_SITE_ID))
    api_url: str = field(metadata=_from(names.DOVERUNNER_API_URL, DEFAULT_API_URL))
    default_service: str = "PD002"


@_contract(names.PROBER)
@dataclass(frozen=True)
class ProberConfig(_FromEnvironment):
    """What the probe of paused submissions reads: DoveRunner, the jobs table, the ingest queue."""

    jobs_table: str = field(metadata=_from(names.JOBS_TABLE))
    secret_id: str = field(metadata=_from(names.DOVERUNNER_SECRET_ID))
    site_id: str = field(metadata=_from(names.DOVERUNNER_SITE_ID))
    api_url: str = field(metadata=_from(names.DOVERUNNER_API_URL, DEFAULT_API_URL))
    ingest_queue_url: str = field(metadata=_from(names.INGEST_QUEUE_URL))
    quota_probe_seconds: int = field(metadata=_from(names.QUOTA_PROBE_SECONDS, "3600"))
    default_service: str = "PD002"


@once
def prober_config() -> ProberConfig:
    return ProberConfig.from_env()


def settings_of(handler_folder: str) -> type[_FromEnvironment] | None:
    """The settings class a function reads (antipiracy.environment.FUNCTIONS); None for one that reads none."""
    return _SETTINGS.get(FUNCTIONS[handler_folder].settings.settings)
