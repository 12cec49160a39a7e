"""CDK app: `cdk synth` through cdk.json, or `CDK_OUTDIR=cdk.out python app.py` without the CDK CLI.

Environment-agnostic (no account, no region, no lookups), so synthesis needs no AWS credentials.
The context block of cdk.json is read here too, so both ways synthesize the same template. Its keys:
- "doverunner:layerArchitecture": "arm64" (default) or "x86_64", the Lambda architecture of the layer.
- "@aws-cdk/...": CDK's recommended feature flags for a new app (what `cdk init` writes).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# jsii starts Node when aws_cdk is imported and prints a long end-of-life banner on Node 20.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from stacks.detection_stack import STACK_NAME, DoveRunnerDetectionStack

CDK_JSON = Path(__file__).resolve().parent / "cdk.json"


def cdk_json_context() -> dict[str, Any]:
    """The context block of cdk.json, which only the CDK CLI would otherwise pass in."""
    context: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    return context


def build_app(context: Mapping[str, Any] | None = None, outdir: str | None = None) -> cdk.App:
    """The app and its stack; `context` (e.g. from tests) overrides cdk.json, the CLI's overrides both."""
    app = cdk.App(context={**cdk_json_context(), **(context or {})}, outdir=outdir)
    DoveRunnerDetectionStack(
        app,
        STACK_NAME,
        description="DoveRunner forensic watermark detection: from a suspect video to a blocked session",
    )
    # cdk-nag 3.x works as a validation plugin (Aspects fail); any unacknowledged finding makes synth raise.
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


if __name__ == "__main__":
    build_app().synth()
