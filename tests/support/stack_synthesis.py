"""The result of one synthesis of the app, shared by the stack tests through conftest's fixtures."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stacks.detection_stack import STACK_NAME

__all__ = ["STACK_NAME", "Synthesis"]


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
