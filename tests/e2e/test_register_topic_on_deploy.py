"""Deploying with registerTopic: CloudFormation creates the revocation topic's registration with DoveRunner."""

from __future__ import annotations

import pytest

from doverunner_local.aws.deployment import DeploymentError
from doverunner_local.stack import LocalPipelineStack


def test_deploying_with_register_topic_before_the_secret_is_filled_fails_asking_to_fill_it() -> None:
    # given the stack deployed into the local AWS with registerTopic, its credentials secret still empty
    stack = LocalPipelineStack(step_seconds=0.1, context={"doverunner:registerTopic": True})

    # when CloudFormation creates the registration; then the function's answer fails the deploy with its reason
    with pytest.raises(DeploymentError, match="Fill the secret named by the DoveRunnerSecretArn output"):
        stack.start()
