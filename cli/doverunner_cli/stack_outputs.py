"""A deployed stack found by its name, read through its CloudFormation outputs: what `doverunner revocations` and
`doverunner jobs` act on (the local one with AWS_ENDPOINT_URL)."""

from __future__ import annotations

import logging

log = logging.getLogger("doverunner_cli.stack_outputs")

DEFAULT_STACK = "DoveRunnerDetection"


class StackError(RuntimeError):
    """The stack cannot be read, or lacks an output the command needs: the message says which."""


def stack_outputs(stack: str) -> dict[str, str]:
    """The stack's outputs by name."""
    import boto3  # here, not at import: every other command of the CLI starts without it

    log.debug("reading the outputs of the stack %s", stack)
    try:
        described = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    except Exception as exc:  # botocore raises many kinds; all mean the same here
        raise StackError(f"cannot read the stack {stack!r}: {exc}") from None
    outputs = {str(o["OutputKey"]): str(o["OutputValue"]) for o in described.get("Outputs", [])}
    log.debug("stack %s: outputs %s", stack, ", ".join(sorted(outputs)))
    return outputs
