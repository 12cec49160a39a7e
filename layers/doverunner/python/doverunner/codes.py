"""Catalogs of the guide's detection status codes, API error codes (A-codes) and detection failure codes (D-codes)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Service(StrEnum):
    """Detection products; the API path carries the product code."""

    FWM = "PD002"
    DWM = "PD006"


DEFAULT_SERVICE = Service.FWM.value
_PRODUCT_CODE = re.compile(r"^PD\d{3}$")


def service_code(value: str) -> str:
    """The product code for a service name (FWM, DWM) or a product code (PD002, PD006).

    Other PDnnn codes pass through unchanged, for products newer than this client; DoveRunner answers A4002
    to one it does not support.
    """
    text = value.strip().upper()
    for service in Service:
        if text in (service.name, service.value):
            return service.value
    if _PRODUCT_CODE.match(text):
        return text
    raise ValueError(f"unknown DoveRunner service {value!r}: use FWM (PD002) or DWM (PD006)")


class Outcome(StrEnum):
    """What a terminal status means for the caller."""

    IN_PROGRESS = "in_progress"
    SUCCESS = "success"
    CANCELED = "canceled"
    ERROR = "error"
    FAILED = "failed"


@dataclass(frozen=True)
class StatusInfo:
    code: str
    description: str
    parent: str  # the top-level status a progress code belongs to (itself for a top-level code)
    terminal: bool
    outcome: Outcome

    @property
    def is_progress_code(self) -> bool:
        return self.parent != self.code


def _status(code: str, description: str, parent: str, terminal: bool, outcome: Outcome) -> StatusInfo:
    return StatusInfo(code, description, parent, terminal, outcome)


_RUN = Outcome.IN_PROGRESS
STATUS_CODES: dict[str, StatusInfo] = {
    s.code: s
    for s in (
        _status("FD001", "Ready", "FD001", False, _RUN),
        _status("FD002", "Downloading", "FD002", False, _RUN),
        _status("FD210", "Download started", "FD002", False, _RUN),
        _status("FD220", "Download completed", "FD002", False, _RUN),
        _status("FD003", "Detecting", "FD003", False, _RUN),
        _status("FD311", "Auto-detection started", "FD003", False, _RUN),
        _status("FD312", "Auto-detection completed", "FD003", False, _RUN),
        _status("FD321", "Manual detection started", "FD003", False, _RUN),
        _status("FD322", "Manual detection completed", "FD003", False, _RUN),
        _status("FD004", "Completed", "FD004", True, Outcome.SUCCESS),
        _status("FD400", "Completed (progress)", "FD004", True, Outcome.SUCCESS),
        _status("FD005", "Detection canceled", "FD005", True, Outcome.CANCELED),
        _status("FD510", "Cancel requested", "FD005", False, _RUN),
        _status("FD520", "Cancel completed", "FD005", True, Outcome.CANCELED),
        _status("FD006", "Error", "FD006", True, Outcome.ERROR),
        _status("FD600", "Error (progress)", "FD006", True, Outcome.ERROR),
        # Not in the guide's table, but DoveRunner sends it in status notifications.
        _status("FD007", "Failed", "FD007", True, Outcome.FAILED),
        _status("FD700", "Failed (progress)", "FD007", True, Outcome.FAILED),
    )
}

TOP_LEVEL_STATUSES = tuple(code for code, info in STATUS_CODES.items() if not info.is_progress_code)


def describe_status(code: str | None) -> StatusInfo:
    """The catalog entry of a status code; an unknown code is reported as such, never as terminal."""
    if code and code in STATUS_CODES:
        return STATUS_CODES[code]
    return StatusInfo(code or "", f"Unknown status {code!r}", code or "", False, Outcome.IN_PROGRESS)


@dataclass(frozen=True)
class ErrorInfo:
    code: str
    description: str
    cause: str
    solution: str
    retryable: bool  # whether repeating the same call later can help


_TICKET = "Create a ticket on our Helpdesk to ask for support."
_INTERNAL = "Internal server error occurred during detecting process"

ERROR_CODES: dict[str, ErrorInfo] = {
    e.code: e
    for e in (
        ErrorInfo(
            "A1000",
            "API parameter error",
            "The parameter of the API URL is null or an invalid value was entered.",
            "Follow the API guide and enter the correct parameters to call again.",
            False,
        ),
        ErrorInfo(
            "A1003",
            "Site ID value not found",
            "The site ID is missing or an incorrect value was entered in the API parameter.",
            "Check and apply the correct site ID (four-digit alphanumeric) value on the DoveRunner Console site.",
            False,
        ),
        ErrorInfo(
            "A1006",
            "Site key decryption failed",
            "The data part of pallycon-apidata was encrypted with the wrong site key.",
            "Check and apply the correct site key value on the DoveRunner Console site.",
            False,
        ),
        ErrorInfo(
            "A1007",
            "Hash verification failed",
            "The hash value of the API request data was generated incorrectly.",
            "Apply the correct hash value by referring to the API guide document.",
            False,
        ),
        ErrorInfo("A1108", "Not Service Status", "Service is not used.", "Request to Service.", False),
        ErrorInfo("A2022", "Failed to make kafka message", "kafka message is not made.", _TICKET, True),
        ErrorInfo("A2131", "Not Find to DDB", "DDB is not connected.", _TICKET, True),
        ErrorInfo("A2132", "Failed to trial pack count update", "Internal server error.", _TICKET, True),
        ErrorInfo(
            "A4001",
            "Not support to Service code.",
            "There is no session data stored in our database for the watermark payload.",
            _TICKET,
            False,
        ),
        ErrorInfo(
            "A4002",
            "Failed to register to detect request",
            "Service code is not supported.",
            "Try supported Service code(FWM, DWM)",
            False,
        ),
        ErrorInfo(
            "A4005",
            "Required value is invalid : file_path",
            "The filepath parameter in detection request is null or empty string.",
            "Check your detection request and input the missing parameter.",
            False,
        ),
        ErrorInfo("A4006", "Failed to update detect status", "Internal server error.", _TICKET, True),
        ErrorInfo(
            "A4007",
            "Failed to register watermark key",
            "Internal server error occurred when DoveRunner's support engineer registers the result of the "
            "manual watermark detection.",
            _TICKET,
            False,
        ),
        ErrorInfo(
            "A4008",
            "Failed to send update status notification",
            "Internal server error occurred after updating detection status, failed to send email to user / admin "
            "of the detection result. Or failed to send slack messages to DoveRunner Channel.",
            "Create a ticket on our Helpdesk to ask for the detection status.",
            False,
        ),
        ErrorInfo(
            "A4009",
            "Cannot find detect information",
            "The detect request data is missing due to an internal server error.",
            "Try registering detection request again. If same error arise, create a ticket on our Helpdesk to ask "
            "for support.",
            False,
        ),
        ErrorInfo(
            "A4010",
            "Cannot find detect key",
            "The detect key is missing due to an internal server error.",
            "Try registering detection request again. If same error arise, create a ticket on our Helpdesk to ask "
            "for support.",
            False,
        ),
        ErrorInfo(
            "A4011",
            "Failed to send Slack notification message",
            "Failed to send slack messages to DoveRunner Channel.",
            "Customers don't need to do anything about this error.",
            False,
        ),
        ErrorInfo(
            "A4012",
            "Failed to update detect info",
            "Internal server error occurred during detecting process.",
            _TICKET,
            True,
        ),
        ErrorInfo("A4013", "Failed to send Mail message", "Failed to start auto detection process.", _TICKET, False),
        ErrorInfo(
            "A4015",
            "Exceed to trial detection count",
            "Max Detection count(2) is exceed in trial.",
            "Try to request trial again.",
            False,
        ),
        ErrorInfo("A4016", "Failed to get dwmId list", _INTERNAL, _TICKET, True),
        ErrorInfo("A4017", "Failed to get max dwm Id", _INTERNAL, _TICKET, True),
        ErrorInfo("A4018", "Failed to detection list count", _INTERNAL, _TICKET, True),
        ErrorInfo(
            "A4019",
            "Exceed to detection count",
            "Max Detection count is exceed each service.",
            "Try to reset detection count.",
            False,
        ),
        ErrorInfo("A4020", "Failed to get detection detail in update", _INTERNAL, _TICKET, True),
        ErrorInfo("A4021", "Failed to get detection detail in stop", _INTERNAL, _TICKET, True),
        ErrorInfo("A4022", "Failed to get detection detail in download file", _INTERNAL, _TICKET, True),
        ErrorInfo(
            "A4023",
            "Invalid file extension",
            "File Extension(mp4, mkv, mov) is not supported.",
            "Try to check the valid File extension(mp4, mkv, mov)",
            False,
        ),
        ErrorInfo("A4025", "Updating is not possible with past status values", _INTERNAL, _TICKET, False),
        ErrorInfo("A4026", "Fail to access Video File from S3", _INTERNAL, _TICKET, True),
        ErrorInfo("A4027", "Fail to access Log Files from S3", _INTERNAL, _TICKET, True),
        ErrorInfo(
            "A4028",
            "Job termination failure",
            "Cannot stop job that is already finished",
            "Check job status and only request stop for jobs in progress",
            False,
        ),
        ErrorInfo(
            "A4029",
            "Session revocation notification duplicate registration",
            "Only one notification can be registered per site",
            "Delete existing notification before registering new one or modify existing",
            False,
        ),
        ErrorInfo(
            "A4030",
            "Invalid AWS SNS ARN registration",
            "Invalid AWS ARN format or not an SNS ARN",
            "Verify AWS SNS ARN format (arn:aws:sns:region:account:topic)",
            False,
        ),
        ErrorInfo(
            "A4032",
            "AWS SNS connection failure",
            "Notification configuration not found",
            "Verify notification ID and site ID, then request with correct information",
            False,
        ),
        ErrorInfo(
            "A4033",
            "SNS notification registration failure",
            "Failed to connect to AWS SNS",
            "Check AWS credentials, region settings, and network connectivity",
            True,
        ),
        ErrorInfo(
            "A4034",
            "SNS notification registration failure",
            "Internal server error during notification registration",
            _TICKET,
            True,
        ),
        ErrorInfo(
            "A4035",
            "SNS notification update failure",
            "Internal server error during notification update",
            _TICKET,
            True,
        ),
        ErrorInfo(
            "A4036",
            "SNS notification deletion failure",
            "Internal server error during notification deletion",
            _TICKET,
            True,
        ),
        ErrorInfo(
            "A7008",
            "Fail to parsing Pallycon API DATA",
            "pallycon-apidata value is invalid.",
            "Follow the API guide and enter the correct pallycon-apidata parameters to call again.",
            False,
        ),
        # The client refreshes its token once on these before giving up.
        ErrorInfo(
            "A9001",
            "Token value is invalid",
            "jwt token value is invalid.",
            "Enter the basic token format.",
            True,
        ),
        ErrorInfo(
            "A9002",
            "Token payload value is invalid",
            "jwt token payload value is invalid.",
            "Request a new token from the token API.",
            True,
        ),
        ErrorInfo(
            "A9008",
            "Account information not available",
            "The user account is not correct (사용자 계정이 정확하지 않습니다).",
            "Check user information.",
            False,
        ),
    )
}

# Failure codes found in a detection's `error_code` once it ended in error.
DETECTION_FAILURE_CODES: dict[str, str] = {
    "D000": "Etc (undefined detection failure error)",
    "D001": "Failed to download file.",
    "D002": "The length of the video is less than 5 minutes.",
    "D003": "The video codec should be H.264 or H.265.",
    "D004": "The resolution is below 480P.",
    "D005": "Bitrate is less than 1 Mbps.",
    "D006": "Not enough video quality and resolution for watermark detection.",
    "D007": "The screen is shaking.",
    "D008": "Too much buffering occurred.",
    "D009": "The video should not be repeated.",
    "D010": "The Extension should be in [.mp4, .mkv, .mov]",
    "D011": "Failed to get the media specification.",
    "D012": "Invalid key list data.",
    "D013": "Invalid fwmKey data.",
}

# What an operator can do about a detection failure: the guide's requirements for detection.
_D_SOLUTIONS: dict[str, str] = {
    "D001": "Check that the file URL is reachable by DoveRunner and still valid, then request again.",
    "D002": "Submit a continuous recording of at least 5 minutes without repeated sections.",
    "D003": "Submit a video encoded with H.264 or H.265.",
    "D004": "Submit a recording of at least 480p (720p or higher recommended).",
    "D005": "Submit a recording of at least 1 Mbps.",
    "D006": "Submit a better recording: at least 480p at 1 Mbps, 720p or higher recommended.",
    "D007": "Submit a fixed recording; handheld camera or smartphone recordings cannot be detected.",
    "D008": "Submit a recording with at least 5 minutes played without buffering or freezing.",
    "D009": "Submit a continuous recording without repeated sections.",
    "D010": "Submit an .mp4, .mkv or .mov file.",
    "D011": "Check that the file is a complete, playable video.",
}

HTTP_ERRORS: dict[int, str] = {
    401: "Incorrect JWT Token specification or user information not found",
    403: "You do not have permission to use the API.",
}


def describe_error(code: str) -> ErrorInfo:
    """The catalog entry of an A-code or D-code; an undocumented code still gets a readable entry."""
    if code in ERROR_CODES:
        return ERROR_CODES[code]
    if code in DETECTION_FAILURE_CODES:
        return ErrorInfo(
            code,
            DETECTION_FAILURE_CODES[code],
            "The video does not meet the requirements for detection.",
            _D_SOLUTIONS.get(code, _TICKET),
            False,
        )
    if code.startswith("HTTP") and code[4:].isdigit() and int(code[4:]) in HTTP_ERRORS:
        return ErrorInfo(code, HTTP_ERRORS[int(code[4:])], "", "Check the account id and access key.", False)
    return ErrorInfo(code, f"Undocumented DoveRunner error code {code}", "", _TICKET, False)
