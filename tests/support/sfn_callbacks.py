"""Step Functions' callback API (SendTaskSuccess), stood in for: what waking an execution sends, or a refusal."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError


@dataclass
class StepFunctionsCallbacks:
    """Stands in for Step Functions' SendTaskSuccess: records the tokens it was sent, or refuses with `error`."""

    woken: list[str] = field(default_factory=list)
    error: str | None = None

    def send_task_success(self, *, taskToken: str, output: str) -> dict[str, Any]:
        if self.error:
            raise ClientError({"Error": {"Code": self.error, "Message": "refused"}}, "SendTaskSuccess")
        self.woken.append(taskToken)
        return {}
