"""Settings of the local DoveRunner. The credentials are local-only values, printed so a user can use them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

DEFAULT_SITE_ID = "DEMO"
DEFAULT_SITE_KEY = "localdoverunnersitekey0123456789"  # 32 bytes, as AES-256 needs
DEFAULT_ACCESS_KEY = "local-access-key-0123456789"
DEFAULT_ACCOUNT_ID = "local-account"


@dataclass
class Faults:
    """Fault injection for API calls (never for the admin surface).

    Rates are probabilities per request from a seeded generator; the `next_*` counters are exact: the next N
    matching requests fail, which is what tests use.
    """

    error_rate: float = 0.0  # answer 503 with a non-JSON body, before processing
    rate_limit_rate: float = 0.0  # answer 429 with Retry-After, before processing
    latency_seconds: float = 0.0  # added to every API call
    reset_upload_rate: float = 0.0  # reset the connection halfway through an upload
    next_errors: int = 0
    next_rate_limits: int = 0
    next_upload_resets: int = 0
    # The whole upload is read, then the connection is reset with no answer and nothing registered: the storage
    # lost it after the client had sent its last byte, whatever the file's size.
    next_upload_unanswered: int = 0
    error_path: str = ""  # only requests whose path contains this are failed by next_errors/next_rate_limits
    reset_after_bytes: int = 1 << 20
    seed: int = 7

    def update(self, values: dict[str, Any]) -> None:
        known = {f.name: f.type for f in fields(self)}
        for key, value in values.items():
            if key not in known:
                raise ValueError(f"unknown fault setting {key!r}; known: {', '.join(sorted(known))}")
            current = getattr(self, key)
            setattr(self, key, type(current)(value))


@dataclass
class EmulatorConfig:
    site_id: str = DEFAULT_SITE_ID
    site_key: str = field(default=DEFAULT_SITE_KEY, repr=False)
    access_key: str = field(default=DEFAULT_ACCESS_KEY, repr=False)
    account_id: str = DEFAULT_ACCOUNT_ID
    # The token API's key; None means the same as the site access key, as DoveRunner consoles show it.
    account_access_key: str | None = field(default=None, repr=False)
    # Seconds between two status changes of a detection; real DoveRunner takes minutes, tests want milliseconds.
    step_seconds: float = 1.0
    token_ttl_seconds: float = 3600.0
    timestamp_tolerance_seconds: float = 300.0
    upload_url_ttl_seconds: float = 60.0
    services: tuple[str, ...] = ("PD002", "PD006")
    detection_quota: int | None = None  # A4019 past it
    trial: bool = False  # a trial site: A4015 past two detections
    region_code: str = "KR"
    # Where notifications are published; None publishes nothing and records why.
    aws_endpoint_url: str | None = None
    notification_version: str = "1.1"
    # Added to this server's clock: a client whose clock drifts sees its timestamps refused as stale.
    clock_skew_seconds: float = 0.0
    # The guide specifies the header; the older sample's query parameter is accepted unless this is False.
    accept_query_apidata: bool = True
    download_timeout_seconds: float = 30.0
    live_segments: int = 5
    # A live detection with no mark found yet keeps watching its stream until stopped; past this it ends by
    # itself as stopped (FD005/FD520), so no detection thread runs forever in a long-lived emulator.
    live_max_seconds: float = 6 * 3600
    # Judge uploaded and downloaded videos by their real metadata (FFmpeg through PyAV) against DoveRunner's
    # requirements: 5 minutes, H.264/H.265, 480p, 1 Mbps (D002-D005; D011 when FFmpeg finds no video), before the
    # marker rules. False only for a test of something else that sends bytes which are no video.
    judge_media: bool = True
    faults: Faults = field(default_factory=Faults)

    def public(self) -> dict[str, Any]:
        """Settings for the admin surface; the site key and access key are left out."""
        out = asdict(self)
        out.pop("site_key")
        out.pop("access_key")
        out.pop("account_access_key")
        return out
