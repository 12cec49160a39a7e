"""The bytecode step of the bundles (stacks/bytecode): CPython 3.14 (Pyodide's build) compiles the sources once."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from stacks.bytecode import COMPILER_DIR, BytecodeCompiler, BytecodeError
from stacks.shared_layer import PYTHON_VERSION

# Imports a module of `tree` in Pyodide's CPython and prints one of its values.
READ_BACK = """
const { loadPyodide } = await import(process.argv[1]);
const [tree, module, name] = process.argv.slice(2);
const pyodide = await loadPyodide({ stdout: () => {} });
pyodide.FS.mkdir("/tree");
pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: tree }, "/tree");
const code = `import sys; sys.path.insert(0, "/tree"); import ${module}; ${module}.${name}`;
process.stdout.write(String(pyodide.runPython(code)));
"""


def _read_back(tree: Path, module: str, name: str) -> str:
    pyodide = COMPILER_DIR / "node_modules" / "pyodide" / "pyodide.mjs"
    command = ["node", "--input-type=module", "-e", READ_BACK, str(pyodide), str(tree), module, name]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    package = tmp_path / "tree" / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "values.py").write_text("VALUE = 'compiled'\n")
    return tmp_path / "tree"


@pytest.fixture
def compiler(tmp_path: Path) -> BytecodeCompiler:
    return BytecodeCompiler(PYTHON_VERSION, cache_dir=tmp_path / "cache")


def test_every_source_gets_bytecode_for_the_runtimes_python(tree: Path, compiler: BytecodeCompiler) -> None:
    compiled = compiler.compile_tree(tree)

    assert compiled == 2
    assert sorted(p.name for p in tree.rglob("*.pyc")) == ["__init__.cpython-314.pyc", "values.cpython-314.pyc"]


def test_the_runtimes_python_reads_the_bytecode_without_checking_the_source(
    tree: Path, compiler: BytecodeCompiler
) -> None:
    # given bytecode made from one source, and the source changed afterwards
    compiler.compile_tree(tree)
    (tree / "pkg" / "values.py").write_text("VALUE = 'source'\n")

    # when CPython 3.14 imports the module, then it ran the bytecode (unchecked hash: no stat, no recompilation)
    assert _read_back(tree, "pkg.values", "VALUE") == "compiled"


def test_a_second_bundle_of_the_same_sources_starts_no_compiler(tree: Path, tmp_path: Path) -> None:
    BytecodeCompiler(PYTHON_VERSION, cache_dir=tmp_path / "cache").compile_tree(tree)
    again = tmp_path / "again"
    again.mkdir()
    (again / "values.py").write_text("VALUE = 'compiled'\n")

    without_node = BytecodeCompiler(PYTHON_VERSION, cache_dir=tmp_path / "cache", node="no-such-node")

    assert without_node.compile_tree(again) == 1


def test_a_source_the_compiler_refuses_ships_without_bytecode_and_is_not_retried(tree: Path, tmp_path: Path) -> None:
    (tree / "pkg" / "template.py").write_text("def broken(:\n")
    BytecodeCompiler(PYTHON_VERSION, cache_dir=tmp_path / "cache").compile_tree(tree)

    assert not list(tree.rglob("template.*.pyc"))
    assert BytecodeCompiler(PYTHON_VERSION, cache_dir=tmp_path / "cache", node="no-such-node").compile_tree(tree) == 2


def test_a_compiler_of_another_python_is_refused_naming_the_pin(tree: Path, tmp_path: Path) -> None:
    with pytest.raises(BytecodeError, match=r"CPython 3\.14\.\d+, the runtime is Python 3\.13: pin"):
        BytecodeCompiler("3.13", cache_dir=tmp_path / "cache").compile_tree(tree)
    assert not list(tree.rglob("*.pyc"))
    assert not list((tmp_path / "cache").rglob("*.pyc"))


def test_without_node_the_error_says_how_to_get_the_compiler(tree: Path, tmp_path: Path) -> None:
    compiler = BytecodeCompiler(PYTHON_VERSION, cache_dir=tmp_path / "cache", node="no-such-node")

    with pytest.raises(BytecodeError, match=r"Node\.js .*make setup.*doverunner:bytecode=false"):
        compiler.compile_tree(tree)


def test_the_compiler_is_pinned_to_the_runtimes_python() -> None:
    pinned = json.loads((COMPILER_DIR / "package.json").read_text())["dependencies"]["pyodide"]

    # Pyodide's release numbers start with the CPython version they carry: 314.x is CPython 3.14.
    assert pinned.startswith(PYTHON_VERSION.replace(".", "") + ".")
