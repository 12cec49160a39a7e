"""The app's settings: CDK context keys (cdk.json, or `-c key=value`), with defaults and validation."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from constructs import Construct

from antipiracy import environment as names

PREFIX = "doverunner:"
# Lambda's bounds on an SQS event source's maximum concurrency.
MIN_REVOKER_CONCURRENCY = 2
MAX_REVOKER_CONCURRENCY = 1000


@dataclass(frozen=True)
class Settings:
    """Each field is the context key `doverunner:<camelCase name>`; see README's Configure section."""

    site_id: str = "DEMO"  # your DoveRunner site id (four characters); not a secret
    api_url: str = "https://api.pallycon.com"
    default_service: str = "FWM"  # FWM (PD002) or DWM (PD006)
    inbox_prefix: str = "inbox/"
    results_prefix: str = "results/"
    initial_wait_seconds: int = 30
    max_wait_seconds: int = 900
    wait_growth: float = 2.0
    max_tracking_seconds: int = 7 * 24 * 3600
    find_upload_seconds: int = 1800
    # Requests by file (docs/pipeline.md#requests-by-file): a folder under the inbox prefix.
    requests_prefix: str = "inbox/requests/"
    max_request_lines: int = 1000
    max_request_bytes: int = 1024 * 1024
    live_max_seconds: int = 3600  # a live request without max_seconds is stopped after this long
    # Paused submissions (quota): the probe resumes them after this long; credentials are probed every run.
    quota_probe_seconds: int = 3600
    # Pre-flight media checks (docs/media.md): enforce (reject what DoveRunner cannot read), warn, or off.
    preflight: str = "enforce"
    url_detection_threshold_bytes: int = 5 * 1024**3  # above the single-PUT limit, URL detection
    force_url_detection: bool = False
    presigned_url_seconds: int = 12 * 3600
    submit_batch_size: int = 1
    submit_max_concurrency: int = 2
    submit_memory_mb: int = 1024
    submit_timeout_seconds: int = 900
    max_receive_count: int = 5
    log_retention_days: int = 30
    alarm_email: str = ""
    web_acl_arn: str = ""  # an existing CloudFront web ACL; empty: the stack creates one (in us-east-1 only)
    block_seconds: int = 30 * 24 * 3600  # how long a session stays blocked; 0 = for good
    waf_capacity: int = 1500  # the web ACL's WCU limit (1,500 by default, up to 5,000 on request)
    # Containment: at most this many revoker invocations at once, whatever the notification rate.
    revoker_max_concurrency: int = 2
    # Session revocation (topic, revoker, ledger, web ACL).
    revocation: bool = True
    # An IAM user allowed only to publish to the revocation topic, its keys in a secret for DoveRunner.
    notification_publisher: bool = True
    # Incrementing it replaces the publisher's access key (rotation; docs/revocation.md).
    publisher_key_serial: int = 1
    # Registers the topic with DoveRunner at deploy time; opt-in: a site holds one registration only (A4029).
    register_topic: bool = False
    # DoveRunner's notifications reach the stack (registered at deploy time, or by hand: then set it): tracking then
    # polls a known detection only every notifiedPollSeconds, the lag of a result whose notification was lost.
    notifications_registered: bool | None = None  # None: as registerTopic
    notified_poll_seconds: int = 3600

    layer_architecture: str = "arm64"
    # Ship the functions and the layer with bytecode for the runtime's Python (docs/cold-start.md).
    bytecode: bool = True

    @classmethod
    def from_context(cls, scope: Construct) -> Settings:
        values: dict[str, Any] = {}
        for field in fields(cls):
            key = PREFIX + _camel(field.name)
            raw = scope.node.try_get_context(key)
            if raw is None:
                continue
            default = field.default
            try:
                if isinstance(default, bool) or default is None:  # None: an optional flag (notificationsRegistered)
                    values[field.name] = raw if isinstance(raw, bool) else str(raw).lower() == "true"
                elif isinstance(default, int):
                    values[field.name] = int(raw)
                elif isinstance(default, float):
                    values[field.name] = float(raw)
                else:
                    values[field.name] = str(raw)
            except ValueError:
                raise ValueError(f"context {key} must be a {type(default).__name__}, got {raw!r}") from None
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if len(self.site_id) != 4 or not self.site_id.isalnum():
            raise ValueError(f"context {PREFIX}siteId must be four alphanumeric characters, got {self.site_id!r}")
        if self.default_service.upper() not in ("FWM", "DWM", "PD002", "PD006"):
            raise ValueError(f"context {PREFIX}defaultService must be FWM or DWM, got {self.default_service!r}")
        if not 1 <= self.initial_wait_seconds <= self.max_wait_seconds:
            raise ValueError(f"context {PREFIX}initialWaitSeconds must be between 1 and maxWaitSeconds")
        if not self.inbox_prefix.endswith("/") or not self.results_prefix.endswith("/"):
            raise ValueError("context inboxPrefix and resultsPrefix must end with '/'")
        if self.results_prefix.startswith(self.inbox_prefix):
            raise ValueError("context resultsPrefix must be outside inboxPrefix (reports would be submitted)")
        if not self.requests_prefix.endswith("/") or not self.requests_prefix.startswith(self.inbox_prefix):
            raise ValueError(f"context {PREFIX}requestsPrefix must be a folder under inboxPrefix, ending with '/'")
        if self.requests_prefix == self.inbox_prefix:
            raise ValueError(f"context {PREFIX}requestsPrefix must be a folder under inboxPrefix, not the inbox itself")
        if self.live_max_seconds < 1:
            raise ValueError(f"context {PREFIX}liveMaxSeconds must be at least 1")
        if self.preflight not in ("enforce", "warn", "off"):
            raise ValueError(f"context {PREFIX}preflight must be enforce, warn or off, got {self.preflight!r}")
        if self.max_request_lines < 1 or self.max_request_bytes < 1:
            raise ValueError(f"context {PREFIX}maxRequestLines and {PREFIX}maxRequestBytes must be at least 1")
        if self.register_topic and not (self.revocation and self.notification_publisher):
            raise ValueError(
                f"context {PREFIX}registerTopic needs {PREFIX}revocation and {PREFIX}notificationPublisher: DoveRunner "
                "publishes to the revocation topic with the publisher's keys"
            )
        if not MIN_REVOKER_CONCURRENCY <= self.revoker_max_concurrency <= MAX_REVOKER_CONCURRENCY:
            raise ValueError(
                f"context {PREFIX}revokerMaxConcurrency must be between {MIN_REVOKER_CONCURRENCY} and "
                f"{MAX_REVOKER_CONCURRENCY} (Lambda's limits for an SQS event source), "
                f"got {self.revoker_max_concurrency}"
            )
        if self.notified_poll_seconds <= self.max_wait_seconds:
            # The growing waits of a detection not found yet must stay shorter than the wait for a notification.
            raise ValueError(f"context {PREFIX}notifiedPollSeconds must be longer than {PREFIX}maxWaitSeconds")
        if self.publisher_key_serial < 1:
            raise ValueError(f"context {PREFIX}publisherKeySerial must be at least 1, got {self.publisher_key_serial}")

    @property
    def notified(self) -> bool:
        """Whether DoveRunner's notifications are expected (registerTopic unless said otherwise)."""
        return self.register_topic if self.notifications_registered is None else self.notifications_registered

    @property
    def poll_seconds(self) -> int:
        """The Check step's time-out: the safety net's poll with notifications, the longest wait without."""
        return self.notified_poll_seconds if self.notified else self.max_wait_seconds

    def function_environment(self) -> dict[str, str]:
        """What the detection functions read of these settings (antipiracy.environment, core/antipiracy/config.py)."""
        return {
            names.DOVERUNNER_SITE_ID: self.site_id,
            names.DOVERUNNER_API_URL: self.api_url,
            names.DOVERUNNER_DEFAULT_SERVICE: self.default_service,
            names.INBOX_PREFIX: self.inbox_prefix,
            names.RESULTS_PREFIX: self.results_prefix,
            names.INITIAL_WAIT_SECONDS: str(self.initial_wait_seconds),
            names.MAX_WAIT_SECONDS: str(self.max_wait_seconds),
            names.POLL_SECONDS: str(self.poll_seconds),
            names.NOTIFICATIONS_REGISTERED: str(self.notified).lower(),
            names.WAIT_GROWTH: str(self.wait_growth),
            names.MAX_TRACKING_SECONDS: str(self.max_tracking_seconds),
            names.FIND_UPLOAD_SECONDS: str(self.find_upload_seconds),
            names.URL_DETECTION_THRESHOLD_BYTES: str(self.url_detection_threshold_bytes),
            names.FORCE_URL_DETECTION: str(self.force_url_detection).lower(),
            names.PRESIGNED_URL_SECONDS: str(self.presigned_url_seconds),
            names.REQUESTS_PREFIX: self.requests_prefix,
            names.MAX_REQUEST_LINES: str(self.max_request_lines),
            names.MAX_REQUEST_BYTES: str(self.max_request_bytes),
            # A live detection is never tracked longer than any job.
            names.LIVE_MAX_SECONDS: str(min(self.live_max_seconds, self.max_tracking_seconds)),
            names.PREFLIGHT: self.preflight,
        }


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
