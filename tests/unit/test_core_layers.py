"""The core's layers import only what is above them (docs/architecture.md): read from the source, so a new import
across a layer fails here before it is reviewed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "core" / "antipiracy"
AWS_SDKS = ("boto3", "botocore")

# What each layer must not import: the layers below it, and the AWS SDKs where no I/O belongs.
FORBIDDEN = {
    "domain": ("antipiracy.ports", "antipiracy.adapters", "antipiracy.services", "antipiracy.wiring", *AWS_SDKS),
    "ports": ("antipiracy.adapters", "antipiracy.services", "antipiracy.wiring", *AWS_SDKS),
    "services": ("antipiracy.adapters", "antipiracy.wiring", *AWS_SDKS),
    "adapters": ("antipiracy.services", "antipiracy.wiring"),
}


def layer_of(path: Path) -> str:
    relative = path.relative_to(CORE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


MODULES = sorted(path for path in CORE.rglob("*.py") if layer_of(path) in FORBIDDEN)


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(CORE)))
def test_a_core_module_imports_nothing_below_its_layer(path: Path) -> None:
    forbidden = FORBIDDEN[layer_of(path)]

    crossing = sorted(name for name in imported(path) if name.startswith(forbidden))

    assert crossing == [], f"{path.relative_to(CORE)} ({layer_of(path)}) imports {crossing}"


def test_every_layer_has_modules_to_check() -> None:
    assert {layer_of(path) for path in MODULES} == set(FORBIDDEN)
