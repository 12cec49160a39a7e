"""What an AWS service answered, from botocore's ClientError."""

from __future__ import annotations

from botocore.exceptions import ClientError


def error_code(exc: ClientError) -> str:
    """The service's error code ("" when the answer has none)."""
    return str(exc.response.get("Error", {}).get("Code", ""))
