"""Typed values parsed from DoveRunner responses. Parsing is lenient about number-vs-string, as the guide's own
examples are (it documents `detection_id` as a number and shows it as a string)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from doverunner.codes import DETECTION_FAILURE_CODES, StatusInfo, describe_error, describe_status


def _int(value: Any, default: int | None = None) -> int | None:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        return default


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "y", "yes")


def _str(value: Any) -> str:
    return "" if value is None else str(value)


@dataclass(frozen=True)
class Detection:
    """One detection job, from the detail API or one item of the list API."""

    detection_id: int
    title: str = ""
    detect_status: str = ""
    detect_progress_status: str = ""
    site_id: str = ""
    req_type: str = ""
    demo_contents: bool = False
    file_id: int | None = None
    file_path: str = ""
    region_code: str = ""
    service_code: str = ""
    wm_key: str = ""
    wm_data: str = ""
    error_code: str = ""
    error_message: str = ""
    reg_date: str = ""
    update_date: str = ""

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> Detection:
        return cls(
            detection_id=_int(item.get("detection_id"), 0) or 0,
            title=_str(item.get("title")),
            detect_status=_str(item.get("detect_status")),
            detect_progress_status=_str(item.get("detect_progress_status")),
            site_id=_str(item.get("site_id")),
            req_type=_str(item.get("req_type")),
            demo_contents=_bool(item.get("demo_contents")),
            file_id=_int(item.get("file_id")),
            file_path=_str(item.get("file_path")),
            region_code=_str(item.get("region_code")),
            service_code=_str(item.get("service_code")),
            wm_key=_str(item.get("wm_key")),
            wm_data=_str(item.get("wm_data")),
            error_code=_str(item.get("error_code")),
            error_message=_str(item.get("error_message")),
            reg_date=_str(item.get("reg_date")),
            update_date=_str(item.get("update_date")),
        )

    @property
    def status(self) -> StatusInfo:
        """The most precise status known: the progress code when present, else the top-level code."""
        progress = describe_status(self.detect_progress_status)
        if self.detect_progress_status and progress.parent == describe_status(self.detect_status).code:
            return progress
        return describe_status(self.detect_status)

    @property
    def is_terminal(self) -> bool:
        return describe_status(self.detect_status).terminal or (
            bool(self.detect_progress_status) and describe_status(self.detect_progress_status).terminal
        )

    @property
    def watermark_found(self) -> bool:
        return describe_status(self.detect_status).code == "FD004" and bool(self.wm_key)

    @property
    def failure(self) -> dict[str, str] | None:
        """The detection failure with the guide's explanation, when the detection ended in one."""
        code = self.error_code
        if not code or code in ("0000", "0"):
            return None
        info = describe_error(code)
        return {
            "error_code": code,
            "error_message": self.error_message or DETECTION_FAILURE_CODES.get(code, ""),
            "description": info.description,
            "cause": info.cause,
            "solution": info.solution,
        }

    def to_dict(self) -> dict[str, Any]:
        """The detection plus the meaning of its codes, for reports and the CLI."""
        out = asdict(self)
        status = describe_status(self.detect_status)
        out["status_description"] = status.description
        out["progress_description"] = (
            describe_status(self.detect_progress_status).description if self.detect_progress_status else ""
        )
        out["terminal"] = self.is_terminal
        out["outcome"] = self.status.outcome.value
        out["watermark_found"] = self.watermark_found
        out["failure"] = self.failure
        return out


@dataclass(frozen=True)
class DetectionPage:
    """One page of the list API."""

    total_count: int
    time_zone: str
    items: list[Detection] = field(default_factory=list)


@dataclass(frozen=True)
class UploadTicket:
    """A signed upload URL, valid for one minute from `issued_at` (monotonic seconds)."""

    upload_url: str
    title: str
    file_extension: str
    issued_at: float


@dataclass(frozen=True)
class UploadReceipt:
    """A finished upload. The upload API returns no detection id: it is found by the (unique) title.

    `complete` is True when DoveRunner accepted every byte (or its detection was found), None when the connection
    failed after it took the last byte and nothing was found yet (the upload may or may not have registered).
    """

    title: str
    size: int
    detection: Detection | None = None
    complete: bool | None = True


@dataclass(frozen=True)
class Notification:
    noti_id: int
    noti_name: str = ""
    aws_arn: str = ""
    reg_time: str = ""
    update_time: str = ""

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> Notification:
        return cls(
            noti_id=_int(item.get("noti_id"), 0) or 0,
            noti_name=_str(item.get("noti_name")),
            aws_arn=_str(item.get("aws_arn")),
            reg_time=_str(item.get("reg_time")),
            update_time=_str(item.get("update_time")),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TokenVerification:
    revoke_token: str
    is_valid: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
