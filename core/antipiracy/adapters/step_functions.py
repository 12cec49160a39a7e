"""The tracking state machine's executions over Step Functions."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from antipiracy.adapters.aws_errors import error_code
from antipiracy.domain.schedule import WOKEN
from antipiracy.observability import logger, metrics

# What Step Functions answers for a token whose wait is over: the execution moved on without it.
STALE_TOKEN_ERRORS = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


class StepFunctionsExecutions:
    """`state_machine_arn`: where `start` starts executions (a function that only wakes needs none)."""

    def __init__(self, sfn: Any, state_machine_arn: str = "") -> None:
        self._sfn = sfn
        self._state_machine_arn = state_machine_arn

    def start(self, name: str, payload: Mapping[str, Any]) -> str:
        """One execution per name: a repeated start is refused, and the existing execution's ARN returned."""
        if not self._state_machine_arn:
            raise ValueError("no state machine to start executions of")
        try:
            started = self._sfn.start_execution(
                stateMachineArn=self._state_machine_arn, name=name, input=json.dumps(dict(payload))
            )
            return str(started["executionArn"])
        except ClientError as exc:
            if error_code(exc) != "ExecutionAlreadyExists":
                raise
        return f"{self._state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"

    def complete(self, token: str, output: Mapping[str, Any]) -> None:
        self._sfn.send_task_success(taskToken=token, output=json.dumps(dict(output), default=str))

    def wake(self, token: str, *, job_id: str) -> bool:
        try:
            self._sfn.send_task_success(taskToken=token, output=json.dumps(WOKEN))
        except ClientError as exc:
            code = error_code(exc)
            if code in STALE_TOKEN_ERRORS:
                logger.info(
                    "the execution no longer waited on this token", extra={"job_id": job_id, "error_code": code}
                )
            else:
                logger.warning(
                    "could not wake the execution: it checks after its wait",
                    extra={"job_id": job_id, "error_code": code},
                )
            return False
        except BotoCoreError as exc:
            logger.warning(
                "could not wake the execution: it checks after its wait",
                extra={"job_id": job_id, "error": type(exc).__name__},
            )
            return False
        metrics.add_metric(name="ExecutionsWoken", unit="Count", value=1)
        return True
