"""Errors raised by the DoveRunner client. None of them ever carries a secret."""

from __future__ import annotations


class DoveRunnerClientError(Exception):
    """Base of every error this package raises."""


class ConfigurationError(DoveRunnerClientError):
    """Configuration that is missing or invalid; the message names what is wrong."""


class TransportError(DoveRunnerClientError):
    """DoveRunner could not be reached, or answered with something that is not the API's JSON.

    `maybe_processed` is True when the request may have reached DoveRunner before the failure, so repeating a
    request that creates a detection could create a second one.
    """

    def __init__(self, message: str, *, status: int | None = None, maybe_processed: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.maybe_processed = maybe_processed


class UploadExpiredError(DoveRunnerClientError):
    """The signed upload URL expired (it is valid for one minute) before the upload started."""


class DetectionNotFoundError(DoveRunnerClientError):
    """An uploaded file's detection did not show up in the list API in time."""


class DoveRunnerApiError(DoveRunnerClientError):
    """DoveRunner answered with an `error_code` other than `0000`.

    Carries the code, DoveRunner's message, the guide's description, cause and solution, the HTTP status and
    whether repeating the call can help.
    """

    def __init__(self, code: str, message: str, *, http_status: int, operation: str) -> None:
        from doverunner.codes import describe_error

        info = describe_error(code)
        self.code = code
        self.error_message = message
        self.http_status = http_status
        self.operation = operation
        self.description = info.description
        self.cause = info.cause
        self.solution = info.solution
        self.retryable = info.retryable
        super().__init__(self._text())

    def _text(self) -> str:
        parts = [f"DoveRunner {self.operation} failed: {self.code} {self.description}"]
        if self.error_message and self.error_message != self.description:
            parts.append(f"(DoveRunner said: {self.error_message})")
        parts.append(f"[HTTP {self.http_status}]")
        if self.cause:
            parts.append(f"Cause: {self.cause}")
        if self.solution:
            parts.append(f"Solution: {self.solution}")
        return " ".join(parts)

    def as_dict(self) -> dict[str, object]:
        return {
            "error_code": self.code,
            "error_message": self.error_message,
            "description": self.description,
            "cause": self.cause,
            "solution": self.solution,
            "http_status": self.http_status,
            "retryable": self.retryable,
            "operation": self.operation,
        }
