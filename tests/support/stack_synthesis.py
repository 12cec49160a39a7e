"""The result of one synthesis of the app, shared by the stack tests through conftest's fixtures."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stacks.detection_stack import STACK_NAME

__all__ = ["STACK_NAME", "Bytecode", "Synthesis", "bytecode_in"]


@dataclass(frozen=True)
class Synthesis:
    outdir: Path
    returncode: int
    output: str
    seconds: float

    def read_json(self, name: str) -> Any:
        return json.loads((self.outdir / name).read_text())

    @property
    def template_path(self) -> Path:
        return self.outdir / f"{STACK_NAME}.template.json"


@dataclass(frozen=True)
class Bytecode:
    """What a bundled tree holds of bytecode: its sources and the sources with a .pyc (paths relative to the tree,
    without suffix), and the .pyc files' cache tags (cpython-314)."""

    sources: set[Path]
    compiled: set[Path]
    cache_tags: set[str]


def bytecode_in(tree: Path) -> Bytecode:
    pycs = list(tree.rglob("*.pyc"))
    return Bytecode(
        sources={p.relative_to(tree).with_suffix("") for p in tree.rglob("*.py")},
        compiled={p.relative_to(tree).parent.parent / p.name.split(".")[0] for p in pycs},
        cache_tags={p.name.split(".")[-2] for p in pycs},
    )
