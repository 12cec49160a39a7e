"""DoveRunner forensic watermark detection client: the crypto, the auth and every API call.

Shipped in the shared Lambda layer; the operator CLI and the local DoveRunner build on it.
"""

from doverunner.client import DoveRunnerClient, unique_title
from doverunner.codes import DEFAULT_SERVICE, Outcome, Service, describe_error, describe_status, service_code
from doverunner.config import DEFAULT_API_URL, ClientConfig, Credentials
from doverunner.errors import (
    ConfigurationError,
    DetectionNotFoundError,
    DoveRunnerApiError,
    DoveRunnerClientError,
    TransportError,
    UploadExpiredError,
)
from doverunner.models import Detection, DetectionPage, Notification, TokenVerification, UploadReceipt

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_SERVICE",
    "ClientConfig",
    "ConfigurationError",
    "Credentials",
    "Detection",
    "DetectionNotFoundError",
    "DetectionPage",
    "DoveRunnerApiError",
    "DoveRunnerClient",
    "DoveRunnerClientError",
    "Notification",
    "Outcome",
    "Service",
    "TokenVerification",
    "TransportError",
    "UploadExpiredError",
    "UploadReceipt",
    "describe_error",
    "describe_status",
    "service_code",
    "unique_title",
]
