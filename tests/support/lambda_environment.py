"""The environment the stack gives a function, as the `lambda_env` fixture (tests/conftest.py) sets it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass
class LambdaEnvironment:
    """The variables every function gets, pointing at the local AWS and the local DoveRunner, with the credentials
    secret made and filled as the operator does after deploying; `set` adds a function's own."""

    values: dict[str, str]
    secret_arn: str
    monkeypatch: pytest.MonkeyPatch

    @property
    def endpoint(self) -> str:
        return self.values["AWS_ENDPOINT_URL"]

    def set(self, **variables: str) -> None:
        """Sets the function's own variables (its tables, queues, ...) for the test."""
        for name, value in variables.items():
            self.monkeypatch.setenv(name, value)
        self.values.update(variables)
