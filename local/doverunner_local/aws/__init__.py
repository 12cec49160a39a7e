"""The local AWS: moto in this process, with Lambdas run in-process, for deploying the synthesized CDK stack.

Operator tooling: never part of the Lambda layer.
"""

from doverunner_local.aws.deployment import DeploymentError, LocalAws, LocalDeployment
from doverunner_local.aws.moto_glue import PINNED_MOTO_VERSION, MotoGlueError, check_moto_internals

__all__ = [
    "PINNED_MOTO_VERSION",
    "DeploymentError",
    "LocalAws",
    "LocalDeployment",
    "MotoGlueError",
    "check_moto_internals",
]
