"""Bytecode for the Lambda runtime's Python, made at synthesis (docs/cold-start.md).

Lambda's /var/task and /opt are read-only: a source file shipped without its .pyc is compiled again at every cold
start, which doubles the functions' import time. Bytecode is specific to a Python version (3.14 here, not the
synthesizing machine's), so it is compiled by CPython 3.14 itself: Pyodide's build of it, from the npm registry
(pinned in package.json here, installed by `make setup`), run by Node.js, which the CDK CLI needs anyway.
Each source's .pyc is cached under .cache/bytecode by its content, so a repeated synthesis compiles nothing.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

COMPILER_DIR = Path(__file__).resolve().parent
SCRIPT = COMPILER_DIR / "compile.mjs"
PYODIDE_PACKAGE = COMPILER_DIR / "node_modules" / "pyodide" / "package.json"
DEFAULT_CACHE_DIR = COMPILER_DIR.parents[1] / ".cache" / "bytecode"
INSTALL_HINT = (
    "run `make setup` (or `npm ci --prefix stacks/bytecode`), or synthesize with -c doverunner:bytecode=false "
    "to ship sources only (slower cold starts)"
)


class BytecodeError(RuntimeError):
    """The bytecode cannot be made as asked: what is missing and how to get it."""


class BytecodeCompiler:
    """Writes `__pycache__/<name>.cpython-3XX.pyc` (unchecked hash) beside each source of a tree."""

    def __init__(self, python_version: str, cache_dir: Path = DEFAULT_CACHE_DIR, node: str = "node") -> None:
        self.python_version = python_version
        self.cache_tag = "cpython-" + python_version.replace(".", "")
        self.cache_dir = cache_dir
        self.node = node

    @property
    def identity(self) -> str:
        """What decides the bytecode: the compiler's version and the target's; part of every asset hash."""
        if not PYODIDE_PACKAGE.is_file():
            raise BytecodeError(f"the bytecode compiler (Pyodide) is not installed: {INSTALL_HINT}")
        version = json.loads(PYODIDE_PACKAGE.read_text())["version"]
        return f"pyodide-{version}/{self.cache_tag}"

    def compile_tree(self, tree: Path) -> int:
        """Gives every .py under `tree` its bytecode; returns how many sources have it. A source the compiler
        refuses (none of the shipped ones; a template, say) keeps no .pyc: the runtime compiles it if imported."""
        identity = self.identity
        sources = sorted(path for path in tree.rglob("*.py") if "__pycache__" not in path.parts)
        cached = {source: self._cache_entry(identity, source) for source in sources}
        missing = [(source, entry) for source, entry in cached.items() if not entry.exists() and not _refused(entry)]
        if missing:
            self._compile(missing, identity)
        shipped = 0
        for source, entry in cached.items():
            if entry.exists():
                target = source.parent / "__pycache__" / f"{source.stem}.{self.cache_tag}.pyc"
                target.parent.mkdir(exist_ok=True)
                shutil.copyfile(entry, target)
                shipped += 1
        return shipped

    def _cache_entry(self, identity: str, source: Path) -> Path:
        digest = hashlib.sha256(identity.encode() + b"\0" + source.read_bytes()).hexdigest()
        return self.cache_dir / digest[:2] / f"{digest}.pyc"

    def _compile(self, pairs: list[tuple[Path, Path]], identity: str) -> None:
        if shutil.which(self.node) is None:
            raise BytecodeError(f"compiling bytecode needs Node.js ({self.node!r} is not on PATH): {INSTALL_HINT}")
        for _, entry in pairs:
            entry.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="bytecode-") as folder:
            manifest = Path(folder) / "manifest.json"
            manifest.write_text(json.dumps([[str(source.resolve()), str(entry.resolve())] for source, entry in pairs]))
            done = subprocess.run(
                [self.node, str(SCRIPT), str(manifest), self.cache_tag],
                capture_output=True,
                text=True,
                check=False,
                cwd=COMPILER_DIR,
            )
        if done.returncode != 0:
            raise BytecodeError(f"the bytecode compiler failed (exit {done.returncode}): {done.stderr[-2000:]}")
        outcome = json.loads(done.stdout.strip().splitlines()[-1])
        if outcome["cache_tag"] != self.cache_tag:
            raise BytecodeError(
                f"the bytecode compiler is CPython {outcome['version']}, the runtime is Python {self.python_version}: "
                "pin the Pyodide release of the runtime's version in stacks/bytecode/package.json"
            )
        for source in outcome["failed"]:
            # Remembered, so that the next synthesis does not start the compiler for it again.
            _refusal(self._cache_entry(identity, Path(source))).touch()


def _refusal(entry: Path) -> Path:
    return entry.with_suffix(".refused")


def _refused(entry: Path) -> bool:
    return _refusal(entry).exists()
