"""One synthesis of the real app per test session; the stack tests all read its output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

# app.py and stacks/ sit at the top of the repo, outside any installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
# jsii starts Node when aws_cdk is imported and prints a long end-of-life banner on Node 20.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk.assertions import Template
from stack_synthesis import STACK_NAME, Synthesis

from stacks.functions import HANDLERS

REPO_ROOT = Path(__file__).resolve().parents[2]


def _environment_without_aws(outdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env["CDK_OUTDIR"] = str(outdir)
    # Files that do not exist, so a developer's ~/.aws cannot stand in for the missing variables.
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = str(outdir.parent / "no-aws-config")
    return env


@pytest.fixture(scope="session")
def synthesis(tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    """`python app.py` as a user runs it, with no AWS credentials or settings in its environment."""
    outdir = tmp_path_factory.mktemp("synth") / "cdk.out"
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO_ROOT,
        env=_environment_without_aws(outdir),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    return Synthesis(outdir, result.returncode, result.stdout + result.stderr, time.monotonic() - started)


@pytest.fixture(scope="session")
def synthesized(synthesis: Synthesis) -> Synthesis:
    """The synthesis, for tests that need it to have worked."""
    if synthesis.returncode != 0:
        pytest.fail(f"synthesis failed (exit {synthesis.returncode}):\n{synthesis.output}")
    return synthesis


@pytest.fixture(scope="session")
def template_json(synthesized: Synthesis) -> dict[str, Any]:
    template: dict[str, Any] = json.loads(synthesized.template_path.read_text())
    return template


@pytest.fixture(scope="session")
def template(template_json: dict[str, Any]) -> Template:
    return Template.from_json(template_json)


@pytest.fixture(scope="session")
def layer_bundle(synthesized: Synthesis, template_json: dict[str, Any]) -> Path:
    """The staged layer directory in cdk.out, found through the layer's S3 key in the asset manifest."""
    (layer,) = [r for r in template_json["Resources"].values() if r["Type"] == "AWS::Lambda::LayerVersion"]
    asset_hash = layer["Properties"]["Content"]["S3Key"].removesuffix(".zip")
    source = synthesized.read_json(f"{STACK_NAME}.assets.json")["files"][asset_hash]["source"]
    return synthesized.outdir / str(source["path"])


@pytest.fixture(scope="session")
def function_bundles(synthesized: Synthesis, template_json: dict[str, Any]) -> dict[str, Path]:
    """Each function's staged code directory in cdk.out, by handler folder."""
    files = synthesized.read_json(f"{STACK_NAME}.assets.json")["files"]
    bundles = {}
    for resource in template_json["Resources"].values():
        properties = resource.get("Properties") or {}
        folder = str(properties.get("Handler", "")).split(".")[0]
        if resource["Type"] == "AWS::Lambda::Function" and folder in HANDLERS:
            asset_hash = properties["Code"]["S3Key"].removesuffix(".zip")
            bundles[folder] = synthesized.outdir / str(files[asset_hash]["source"]["path"])
    return bundles
