"""The functions' environment contract: the name of every variable a function reads, defined once here, and which
of them each function's settings read.

core/antipiracy/config.py reads its settings through these names (and refuses to load should a settings class and
its entry here disagree); the stacks set the variables by these names, and stacks/functions.py refuses at synthesis
a function whose environment misses a variable its settings need or sets one they never read.

Plain names and sets, no boto3 and nothing heavy: the stacks import it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

# ---- DoveRunner: the site, its API and the credentials secret ----------------------------------------------------
DOVERUNNER_SECRET_ID: Final = "DOVERUNNER_SECRET_ID"  # noqa: S105 (the variable's name, not a secret)
DOVERUNNER_SITE_ID: Final = "DOVERUNNER_SITE_ID"
DOVERUNNER_API_URL: Final = "DOVERUNNER_API_URL"
DOVERUNNER_DEFAULT_SERVICE: Final = "DOVERUNNER_DEFAULT_SERVICE"

# ---- detection: submit, track, report ----------------------------------------------------------------------------
JOBS_TABLE: Final = "JOBS_TABLE"
INBOX_PREFIX: Final = "INBOX_PREFIX"
RESULTS_PREFIX: Final = "RESULTS_PREFIX"
STATE_MACHINE_ARN: Final = "STATE_MACHINE_ARN"
RESULTS_TOPIC_ARN: Final = "RESULTS_TOPIC_ARN"
URL_DETECTION_THRESHOLD_BYTES: Final = "URL_DETECTION_THRESHOLD_BYTES"
FORCE_URL_DETECTION: Final = "FORCE_URL_DETECTION"
PRESIGNED_URL_SECONDS: Final = "PRESIGNED_URL_SECONDS"
INITIAL_WAIT_SECONDS: Final = "INITIAL_WAIT_SECONDS"
MAX_WAIT_SECONDS: Final = "MAX_WAIT_SECONDS"
POLL_SECONDS: Final = "POLL_SECONDS"
NOTIFICATIONS_REGISTERED: Final = "NOTIFICATIONS_REGISTERED"
WAIT_GROWTH: Final = "WAIT_GROWTH"
MAX_TRACKING_SECONDS: Final = "MAX_TRACKING_SECONDS"
FIND_UPLOAD_SECONDS: Final = "FIND_UPLOAD_SECONDS"
REQUESTS_PREFIX: Final = "REQUESTS_PREFIX"
MAX_REQUEST_LINES: Final = "MAX_REQUEST_LINES"
MAX_REQUEST_BYTES: Final = "MAX_REQUEST_BYTES"
LIVE_MAX_SECONDS: Final = "LIVE_MAX_SECONDS"
OPERATOR_TOPIC_ARN: Final = "OPERATOR_TOPIC_ARN"
INGEST_QUEUE_URL: Final = "INGEST_QUEUE_URL"
QUOTA_PROBE_SECONDS: Final = "QUOTA_PROBE_SECONDS"
PREFLIGHT: Final = "PREFLIGHT"

# ---- revocation: the ledger, the web ACL, how long a block lasts -------------------------------------------------
LEDGER_TABLE: Final = "LEDGER_TABLE"
WEB_ACL_NAME: Final = "WEB_ACL_NAME"
WEB_ACL_ID: Final = "WEB_ACL_ID"
WAF_REGION: Final = "WAF_REGION"
WAF_CAPACITY: Final = "WAF_CAPACITY"
DEAD_LETTER_QUEUE_URL: Final = "DEAD_LETTER_QUEUE_URL"
BLOCK_SECONDS: Final = "BLOCK_SECONDS"

# ---- Powertools: set on every function by stacks/functions.py, read by Powertools itself, not by the settings -----
POWERTOOLS_SERVICE_NAME: Final = "POWERTOOLS_SERVICE_NAME"
POWERTOOLS_METRICS_NAMESPACE: Final = "POWERTOOLS_METRICS_NAMESPACE"
LOG_LEVEL: Final = "LOG_LEVEL"
POWERTOOLS: Final = frozenset({POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE, LOG_LEVEL})
# Their values: the functions' logs, traces and metrics (antipiracy.observability), and the stack's alarms on them.
SERVICE_NAME: Final = "doverunner-detection"
METRICS_NAMESPACE: Final = "DoveRunnerDetection"
# Metrics the functions emit and the stack's alarms watch: named once, so an alarm cannot watch a metric nobody sends.
METRIC_INVALID_NOTIFICATIONS: Final = "InvalidNotifications"
METRIC_NOT_VERIFIED: Final = "RevocationsNotVerified"
METRIC_NOTIFICATIONS_REFUSED: Final = "NotificationsRefused"
METRIC_REFUSED_FOR_CAPACITY: Final = "RevocationsRefusedForCapacity"
METRIC_WEB_ACL_CAPACITY_USED: Final = "WebAclCapacityUsedPercent"
METRIC_JOBS_HELD: Final = "JobsHeld"
METRIC_JOBS_REFUSED: Final = "JobsRefused"
METRIC_SUBMISSIONS_PAUSED: Final = "SubmissionsPaused"


@dataclass(frozen=True)
class SettingsVariables:
    """What one kind of settings reads from the environment. `settings` names it in antipiracy.config; `optional`
    variables may stay unset, which turns a feature off (no results topic: nothing is published)."""

    settings: str
    variables: frozenset[str]
    optional: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.optional <= self.variables:
            raise ValueError(f"{self.settings}: optional variables it does not read: {sorted(self.optional)}")


# Where DoveRunner is and the secret with the credentials: every function that calls DoveRunner reads them.
DOVERUNNER_SITE: Final = frozenset({DOVERUNNER_SECRET_ID, DOVERUNNER_SITE_ID, DOVERUNNER_API_URL})
# How the detection functions submit and wait: theirs alone.
DETECTION_TUNING: Final = frozenset(
    {
        DOVERUNNER_DEFAULT_SERVICE,
        INBOX_PREFIX,
        URL_DETECTION_THRESHOLD_BYTES,
        FORCE_URL_DETECTION,
        PRESIGNED_URL_SECONDS,
        INITIAL_WAIT_SECONDS,
        MAX_WAIT_SECONDS,
        POLL_SECONDS,
        NOTIFICATIONS_REGISTERED,
        WAIT_GROWTH,
        MAX_TRACKING_SECONDS,
        FIND_UPLOAD_SECONDS,
        REQUESTS_PREFIX,
        MAX_REQUEST_LINES,
        MAX_REQUEST_BYTES,
        LIVE_MAX_SECONDS,
        PREFLIGHT,
    }
)

PIPELINE: Final = SettingsVariables(
    "PipelineConfig",
    DOVERUNNER_SITE
    | DETECTION_TUNING
    | {JOBS_TABLE, RESULTS_PREFIX, STATE_MACHINE_ARN, RESULTS_TOPIC_ARN, OPERATOR_TOPIC_ARN},
    optional=frozenset({STATE_MACHINE_ARN, RESULTS_TOPIC_ARN, OPERATOR_TOPIC_ARN}),
)
# The probe of paused submissions: the jobs table, DoveRunner, the ingest queue the held jobs go back to.
PROBER: Final = SettingsVariables("ProberConfig", DOVERUNNER_SITE | {JOBS_TABLE, INGEST_QUEUE_URL, QUOTA_PROBE_SECONDS})
REVOCATION: Final = SettingsVariables(
    "RevocationConfig",
    DOVERUNNER_SITE
    | {
        LEDGER_TABLE,
        JOBS_TABLE,
        WEB_ACL_NAME,
        WEB_ACL_ID,
        WAF_REGION,
        WAF_CAPACITY,
        DEAD_LETTER_QUEUE_URL,
        BLOCK_SECONDS,
        RESULTS_PREFIX,
    },
    optional=frozenset({DEAD_LETTER_QUEUE_URL}),
)
REGISTRAR: Final = SettingsVariables("RegistrarConfig", DOVERUNNER_SITE)
NOTHING: Final = SettingsVariables("nothing", frozenset())


@dataclass(frozen=True)
class FunctionEnvironment:
    """One function's part of the contract: the settings it reads, and the optional variables of those it cannot do
    without (`uses`)."""

    settings: SettingsVariables
    uses: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.uses <= self.settings.optional:
            raise ValueError(f"uses {sorted(self.uses)}: not optional variables of {self.settings.settings}")

    @property
    def reads(self) -> frozenset[str]:
        """Every variable the function's settings read: all the stack may set (Powertools' own aside)."""
        return self.settings.variables

    @property
    def needs(self) -> frozenset[str]:
        """What the stack must set: what the settings read, but the optional variables this function goes without."""
        return (self.settings.variables - self.settings.optional) | self.uses

    def problems(self, names: Iterable[str]) -> list[str]:
        """What is wrong with an environment that sets `names`: nothing (an empty list) when it fits."""
        given = frozenset(names) - POWERTOOLS
        missing = sorted(self.needs - given)
        unread = sorted(given - self.reads)
        return [f"misses {name}, which its settings ({self.settings.settings}) need" for name in missing] + [
            f"sets {name}, which its settings ({self.settings.settings}) never read" for name in unread
        ]


# Handler folder (functions/<folder>/handler.py) -> its part of the contract, as core/antipiracy/wiring.py reads it.
FUNCTIONS: Final[Mapping[str, FunctionEnvironment]] = {
    # config(): starts the tracking execution of each job; publishes the result of a job it ends (rejected,
    # refused, held) and tells the operator when it pauses submissions.
    "submit": FunctionEnvironment(PIPELINE, uses=frozenset({STATE_MACHINE_ARN, RESULTS_TOPIC_ARN, OPERATOR_TOPIC_ARN})),
    # config(): checks a detection and ends or keeps its own wait; neither starts executions nor publishes.
    "tracker": FunctionEnvironment(PIPELINE),
    # config(): writes the report and publishes the result.
    "reporter": FunctionEnvironment(PIPELINE, uses=frozenset({RESULTS_TOPIC_ARN})),
    # prober_config(): resumes paused submissions when DoveRunner takes requests again.
    "prober": FunctionEnvironment(PROBER),
    # revocation_config(): sends invalid notifications to the dead-letter queue.
    "revoker": FunctionEnvironment(REVOCATION, uses=frozenset({DEAD_LETTER_QUEUE_URL})),
    # revocation_config(): lifts expired blocks.
    "lifter": FunctionEnvironment(REVOCATION),
    # RegistrarConfig.from_env() at each request.
    "registrar": FunctionEnvironment(REGISTRAR),
    # No settings: the web ACL's name and description come with each request.
    "webacl": FunctionEnvironment(NOTHING),
}
