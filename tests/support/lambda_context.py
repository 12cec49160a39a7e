"""The Lambda context a handler is called with, as far as Powertools and the handlers read it."""

from __future__ import annotations


class FakeContext:
    function_name = "test-function"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id = "request-1"

    def __init__(self, remaining_seconds: float = 120.0) -> None:
        self.remaining_seconds = remaining_seconds

    def get_remaining_time_in_millis(self) -> int:
        return int(self.remaining_seconds * 1000)
