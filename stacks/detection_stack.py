"""The one stack of the app; each concern is a construct of its own in this package."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from stacks.shared_layer import DEFAULT_ARCHITECTURE, DoveRunnerClientLayer

STACK_NAME = "DoveRunnerDetection"
# cdk.json context key: "arm64" (default) or "x86_64"; later functions must use the same architecture.
ARCHITECTURE_CONTEXT_KEY = "doverunner:layerArchitecture"


class DoveRunnerDetectionStack(Stack):
    """Automates DoveRunner forensic watermark detection; for now it holds the shared client layer."""

    def __init__(self, scope: Construct, construct_id: str = STACK_NAME, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        architecture = self.node.try_get_context(ARCHITECTURE_CONTEXT_KEY) or DEFAULT_ARCHITECTURE

        self.client_layer = DoveRunnerClientLayer(self, "ClientLayer", architecture=str(architecture))

        CfnOutput(
            self,
            "ClientLayerVersionArn",
            value=self.client_layer.layer_version.layer_version_arn,
            description="ARN of the layer version with the DoveRunner client and its dependencies",
        )
