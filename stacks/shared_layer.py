"""The shared Lambda layer: the `doverunner` client package and its third-party runtime dependencies.

Built without Docker: CDK local bundling runs `pip install --platform ...` so that the wheels match the
Lambda platform, not the machine running the synth.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from stacks.bytecode import BytecodeCompiler

REPO_ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = REPO_ROOT / "pyproject.toml"
# Layer source root: Lambda puts a layer's python/ directory on sys.path.
LAYER_SOURCE = REPO_ROOT / "layers" / "doverunner"
PACKAGE_SOURCE = LAYER_SOURCE / "python" / "doverunner"
DEFAULT_CACHE_DIR = REPO_ROOT / ".cache" / "layer-deps"

# Python 3.14: the newest Lambda runtime (cdk-nag L1); every dependency ships cp314 or abi3 aarch64 wheels.
RUNTIME = lambda_.Runtime.PYTHON_3_14
PYTHON_VERSION = "3.14"
# The Lambda runtime already provides boto3 and what it needs; shipping them would bloat the layer, shadow the
# runtime's copies and cost each cold start their compilation (docs/cold-start.md).
PROVIDED_BY_RUNTIME = frozenset({"boto3", "botocore", "jmespath", "urllib3", "s3transfer", "python-dateutil", "six"})
# Bump when the way the dependency tree is built changes, so that old cache entries are not reused.
_BUILD_LAYOUT = "1"


@dataclass(frozen=True)
class LayerPlatform:
    """A Lambda architecture and the manylinux wheel tag pip must select for it."""

    architecture: lambda_.Architecture
    wheel_platform: str


# arm64 (Graviton) is the default: about 20 % cheaper per GB-second, and every dependency (cryptography,
# cffi, charset-normalizer) ships manylinux2014 aarch64 wheels.
PLATFORMS: dict[str, LayerPlatform] = {
    "arm64": LayerPlatform(lambda_.Architecture.ARM_64, "manylinux2014_aarch64"),
    "x86_64": LayerPlatform(lambda_.Architecture.X86_64, "manylinux2014_x86_64"),
}
DEFAULT_ARCHITECTURE = "arm64"


def _distribution_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    if match is None:
        raise ValueError(f"cannot read a distribution name from requirement {requirement!r}")
    # PEP 503 normalisation, so that e.g. "Boto3" or "boto_3" style spellings compare equal.
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def layer_requirements(pyproject: Path = PYPROJECT) -> list[str]:
    """The pinned runtime dependencies from pyproject.toml, less what the Lambda runtime provides."""
    with pyproject.open("rb") as handle:
        dependencies: list[str] = tomllib.load(handle)["project"]["dependencies"]
    return [dep for dep in dependencies if _distribution_name(dep) not in PROVIDED_BY_RUNTIME]


def package_fingerprint(package_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(package_dir.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(package_dir).as_posix().encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


@jsii.implements(ILocalBundling)
class PipLayerBundler:
    """Builds the layer tree (python/...) on this machine with pip's cross-platform wheel selection.

    The pip result is cached under a key made of everything that decides it, so a repeated synth only copies.
    """

    def __init__(
        self,
        requirements: list[str],
        wheel_platform: str,
        package_source: Path = PACKAGE_SOURCE,
        cache_dir: Path = DEFAULT_CACHE_DIR,
        bytecode: BytecodeCompiler | None = None,
    ) -> None:
        self.requirements = list(requirements)
        self.bytecode = bytecode
        self.package_source = package_source
        self.cache_dir = cache_dir
        self.pip_target_args = [
            "--platform",
            wheel_platform,
            "--implementation",
            "cp",
            "--python-version",
            PYTHON_VERSION,
            "--only-binary=:all:",
            # Every dependency is pinned in pyproject.toml; resolving would also pull in botocore.
            "--no-deps",
        ]
        key_source = "\n".join([_BUILD_LAYOUT, *self.pip_target_args, *self.requirements])
        self.cache_key = hashlib.sha256(key_source.encode()).hexdigest()[:24]

    @property
    def asset_hash(self) -> str:
        """Changes whenever the layer's content would: dependencies, target platform, the package source or the
        bytecode compiler."""
        compiler = self.bytecode.identity if self.bytecode else "sources only"
        parts = (self.cache_key, package_fingerprint(self.package_source), compiler)
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def try_bundle(self, output_dir: str, *, image: DockerImage | None = None, **_options: object) -> bool:
        # Never returns False: there is no Docker to fall back to, so a failure must say why right here.
        site_packages = Path(output_dir) / "python"
        shutil.copytree(self._dependencies(), site_packages, dirs_exist_ok=True)
        shutil.copytree(
            self.package_source,
            site_packages / self.package_source.name,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        if self.bytecode:
            self.bytecode.compile_tree(site_packages)
        return True

    def _dependencies(self) -> Path:
        cached = self.cache_dir / self.cache_key
        if cached.is_dir():
            return cached
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{self.cache_key}.", dir=self.cache_dir))
        try:
            self._pip_install(staging)
            # Console scripts carry this machine's interpreter path; nothing in Lambda runs them.
            shutil.rmtree(staging / "bin", ignore_errors=True)
            try:
                os.rename(staging, cached)  # atomic: a concurrent synth either sees all of it or none
            except OSError:
                if not cached.is_dir():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return cached

    def _pip_install(self, target: Path) -> None:
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
            # .pyc files from this interpreter would not match the Lambda runtime's Python version.
            "--no-compile",
            *self.pip_target_args,
            "--target",
            str(target),
            *self.requirements,
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(
                f"building the layer's dependencies failed (exit {result.returncode}):\n"
                f"{' '.join(command)}\n{result.stdout}{result.stderr}"
            )


class DoveRunnerClientLayer(Construct):
    """One LayerVersion with `doverunner`, requests, cryptography and aws-lambda-powertools.

    Functions using it must share `runtime` and `architecture`, since the layer holds compiled wheels.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        architecture: str = DEFAULT_ARCHITECTURE,
        cache_dir: Path = DEFAULT_CACHE_DIR,
        bytecode: bool = True,
    ) -> None:
        super().__init__(scope, construct_id)
        if architecture not in PLATFORMS:
            raise ValueError(f"unsupported layer architecture {architecture!r}; choose one of {sorted(PLATFORMS)}")
        platform = PLATFORMS[architecture]
        self.runtime = RUNTIME
        self.architecture = platform.architecture
        self.requirements = layer_requirements()

        # The functions' bundles get their bytecode from the same compiler.
        self.bytecode = BytecodeCompiler(PYTHON_VERSION) if bytecode else None
        bundler = PipLayerBundler(
            self.requirements, platform.wheel_platform, cache_dir=cache_dir, bytecode=self.bytecode
        )
        code = lambda_.Code.from_asset(
            str(LAYER_SOURCE),
            asset_hash_type=AssetHashType.CUSTOM,
            asset_hash=bundler.asset_hash,
            bundling=BundlingOptions(
                # Required by the API but never pulled: local bundling either succeeds or raises.
                image=DockerImage.from_registry("local-bundling-only"),
                local=bundler,
            ),
        )
        self.layer_version = lambda_.LayerVersion(
            self,
            "LayerVersion",
            code=code,
            compatible_runtimes=[self.runtime],
            compatible_architectures=[self.architecture],
            description=(
                f"DoveRunner watermark detection client (doverunner) with {', '.join(self.requirements)}"
                f" for {self.runtime.name} on {architecture}"
            )[:256],
            # Functions deployed earlier keep pointing at their version; deleting it would break them.
            removal_policy=RemovalPolicy.RETAIN,
        )
