"""What the bundled client layer holds, and how it is built."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from stack_synthesis import Synthesis, bytecode_in

from stacks.bytecode import BytecodeCompiler
from stacks.shared_layer import PACKAGE_SOURCE, PYTHON_VERSION, PipLayerBundler, layer_requirements

EM_AARCH64 = 183


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", f"{path} is not an ELF file"
    assert header[5] == 1, f"{path} is not little-endian"
    return int.from_bytes(header[18:20], "little")


def test_layer_holds_the_client_package(layer_bundle: Path) -> None:
    bundled = layer_bundle / "python" / "doverunner"
    assert (bundled / "client.py").is_file()
    expected = sorted(p.relative_to(PACKAGE_SOURCE) for p in PACKAGE_SOURCE.rglob("*.py"))
    assert sorted(p.relative_to(bundled) for p in bundled.rglob("*.py")) == expected


def test_layer_holds_the_dependencies_pinned_in_pyproject(layer_bundle: Path) -> None:
    site = layer_bundle / "python"
    for package in ("requests", "cryptography", "aws_lambda_powertools"):
        assert (site / package).is_dir(), package
    for requirement in layer_requirements():
        name, version = requirement.split("==")
        assert (site / f"{name.replace('-', '_')}-{version}.dist-info").is_dir(), requirement


def test_native_extensions_are_built_for_aarch64(layer_bundle: Path) -> None:
    site = layer_bundle / "python"
    assert _elf_machine(site / "cryptography" / "hazmat" / "bindings" / "_rust.abi3.so") == EM_AARCH64
    shared_objects = list(site.rglob("*.so"))
    assert {so.name: _elf_machine(so) for so in shared_objects} == {so.name: EM_AARCH64 for so in shared_objects}


def test_layer_leaves_out_what_the_lambda_runtime_provides(layer_bundle: Path) -> None:
    names = {p.name.lower() for p in (layer_bundle / "python").iterdir()}
    runtime = ("boto3", "botocore", "jmespath", "urllib3", "s3transfer", "dateutil", "python_dateutil", "six")
    assert not {n for n in names if n.startswith(runtime)}
    assert not [r for r in layer_requirements() if r.startswith(runtime)]


def test_operator_tools_and_the_local_doverunner_stay_out_of_the_layer(layer_bundle: Path) -> None:
    names = {p.name for p in (layer_bundle / "python").iterdir()}

    assert not names & {"doverunner_cli", "doverunner_local", "moto", "aws_cdk"}


def test_layer_ships_bytecode_for_the_runtimes_python_only(layer_bundle: Path) -> None:
    bytecode = bytecode_in(layer_bundle)

    assert bytecode.cache_tags == {"cpython-314"}
    assert bytecode.sources <= bytecode.compiled


def test_layer_has_no_console_scripts(layer_bundle: Path) -> None:
    # Console scripts point at the synthesizing machine's interpreter.
    assert not (layer_bundle / "python" / "bin").exists()


def test_warm_cache_bundles_without_calling_pip(
    synthesized: Synthesis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the cache the session synthesis filled, and a pip that must not run
    def no_pip(*args: object, **kwargs: object) -> None:
        raise AssertionError("pip was called although the cache holds the dependencies")

    monkeypatch.setattr(subprocess, "run", no_pip)
    bundler = PipLayerBundler(layer_requirements(), "manylinux2014_aarch64")

    # when bundling again
    assert bundler.try_bundle(str(tmp_path)) is True

    # then the layer tree is complete
    assert (tmp_path / "python" / "cryptography").is_dir()
    assert (tmp_path / "python" / "doverunner" / "client.py").is_file()


def test_asset_hash_follows_pins_platform_and_package_source(tmp_path: Path) -> None:
    package = tmp_path / "doverunner"
    shutil.copytree(PACKAGE_SOURCE, package, ignore=shutil.ignore_patterns("__pycache__"))
    pins = layer_requirements()
    base = PipLayerBundler(pins, "manylinux2014_aarch64", package_source=package).asset_hash

    other_pins = PipLayerBundler([*pins[:-1], "aws-lambda-powertools==0.0.1"], "manylinux2014_aarch64", package)
    other_platform = PipLayerBundler(pins, "manylinux2014_x86_64", package_source=package)
    assert other_pins.asset_hash != base
    assert other_platform.asset_hash != base

    (package / "client.py").write_text((package / "client.py").read_text() + "\n# changed\n")
    assert PipLayerBundler(pins, "manylinux2014_aarch64", package_source=package).asset_hash != base


def test_asset_hash_follows_the_bytecode_compiler(tmp_path: Path) -> None:
    pins = layer_requirements()
    sources_only = PipLayerBundler(pins, "manylinux2014_aarch64").asset_hash

    with_bytecode = PipLayerBundler(pins, "manylinux2014_aarch64", bytecode=BytecodeCompiler(PYTHON_VERSION))

    assert with_bytecode.asset_hash != sources_only
