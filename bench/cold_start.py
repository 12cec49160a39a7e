"""How long a cold start takes (`make bench-cold-start`): each handler's import, as Lambda's runtime does it, in
fresh processes, beside the floor: a fresh process that imports boto3 and creates one client.

    .venv/bin/python bench/cold_start.py [--runs 7] [--bytecode none|compiled|both]

1. The code as it ships, built by the stack's own bundlers: each function's folder plus the core package
   (stacks/functions.FunctionCodeBundler), and the layer (stacks/shared_layer.PipLayerBundler: the same pinned
   requirements, less what the runtime provides, for this machine's interpreter and platform instead of Lambda's,
   so that its compiled parts load here). The runtime's own packages (boto3, botocore and what they need) come from
   this environment with their bytecode, as Lambda's runtime has them.
2. Each process starts with `-S -E -B` (no site, no PYTHON* variables, no bytecode written: /var/task and /opt
   are read-only, so a file shipped without bytecode is compiled at every cold start) and the runtime's search
   path: the function's code first, then the layer's python/, then the runtime's packages; nothing else. It gets
   the function's environment from the synthesized template (a reference to a resource given a stand-in) and what
   Lambda sets (AWS_LAMBDA_FUNCTION_NAME, LAMBDA_TASK_ROOT, AWS_REGION, credentials of the form).
3. A run imports the handler module (`<folder>.handler`), what Lambda's init phase does; a second run also builds
   what its first invocation builds before any request goes out (the wiring factories the handler calls: AWS
   clients, tables, adapters). The floor's run imports boto3 and creates an S3 client. All are whole processes,
   timed from the parent (interpreter start included).
   Runs are interleaved in rounds (floor, each handler; again) so that a noisy moment touches all alike; the table
   gives each one's median, the median of its paired ratios to the floor of the same round, and the modules loaded.
4. `--bytecode compiled` is the code as the stack ships it (doverunner:bytecode, the default): the bundlers' own
   bytecode step, with this interpreter in place of the runtime's 3.14 (whose bytecode this one cannot read).
   `none` is the code as sources only (doverunner:bytecode=false; what every function shipped before).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import py_compile
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]
# jsii starts Node when aws_cdk is imported and prints a long end-of-life banner on Node 20.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from doverunner_local.stack import synthesize  # noqa: E402
from stacks.bytecode import BytecodeCompiler  # noqa: E402
from stacks.functions import HANDLERS, FunctionCodeBundler  # noqa: E402
from stacks.shared_layer import PROVIDED_BY_RUNTIME, PipLayerBundler, layer_requirements  # noqa: E402

# What Lambda's Python runtime has beside the interpreter: boto3 and its dependencies.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six.py")
LAMBDA_ENVIRONMENT = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "ASIAEXAMPLEEXAMPLE00",
    "AWS_SECRET_ACCESS_KEY": "example-secret-access-key-0000000000000000",
    "AWS_SESSION_TOKEN": "example-session-token",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.14",
    "LAMBDA_TASK_ROOT": "/var/task",
    "LAMBDA_RUNTIME_DIR": "/var/runtime",
    "LANG": "en_US.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
}
FLOOR = "import boto3\nboto3.client('s3', region_name='us-east-1')\n"
IMPORT = "import importlib, sys\nimportlib.import_module({module!r})\nprint(len(sys.modules))\n"
# Then what its first invocation builds before any call goes out: the wiring factories the handler calls (AWS
# clients, tables, adapters), as the floor creates its client. Not the DoveRunner client: it reads a secret first.
CLIENTS = "from antipiracy import wiring\nfor name in {names!r}:\n    getattr(wiring, name)()\n"
WIRING_CALL = re.compile(r"\bwiring\.(\w+)\(")


def first_call_factories(handler: str) -> list[str]:
    source = (ROOT / "functions" / handler / "handler.py").read_text()
    return sorted({name for name in WIRING_CALL.findall(source) if name != "doverunner_client"})


def _site_packages() -> Path:
    import boto3

    return Path(boto3.__file__).resolve().parents[1]


class ThisInterpreter(BytecodeCompiler):
    """The stack's bytecode step with this interpreter in place of the runtime's (Pyodide's 3.14, which cannot
    run the handlers here): the bundles get bytecode this interpreter reads, as Lambda's reads the synthesized."""

    def __init__(self) -> None:
        super().__init__(f"{sys.version_info.major}.{sys.version_info.minor}")

    @property
    def identity(self) -> str:
        return f"this interpreter ({sys.version.split()[0]})"

    def compile_tree(self, tree: Path) -> int:
        compileall.compile_dir(
            tree, quiet=2, workers=0, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
        )
        return sum(1 for _ in tree.rglob("*.pyc"))


def runtime_tree(folder: Path) -> Path:
    """Lambda's runtime packages: boto3 and its dependencies with their bytecode, nothing else."""
    site = _site_packages()
    runtime = folder / "runtime"
    runtime.mkdir()
    for name in RUNTIME_PACKAGES:
        source = site / name
        if source.is_dir():
            shutil.copytree(source, runtime / name)
        else:
            shutil.copy2(source, runtime / name)
    return runtime


def layer_tree(folder: Path, bytecode: BytecodeCompiler | None) -> Path:
    """The layer as the stack builds it, for this interpreter and platform (its compiled parts load here)."""
    machine = "x86_64" if os.uname().machine in ("x86_64", "AMD64") else "aarch64"
    bundler = PipLayerBundler(layer_requirements(), f"manylinux2014_{machine}", bytecode=bytecode)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    bundler.pip_target_args[bundler.pip_target_args.index("--python-version") + 1] = version
    bundler.cache_key = f"bench-{version}-{machine}-{bundler.cache_key}"
    layer = folder / "layer"
    layer.mkdir()
    bundler.try_bundle(str(layer))
    return layer / "python"


def function_trees(folder: Path, bytecode: BytecodeCompiler | None) -> dict[str, Path]:
    trees = {}
    for handler in sorted(HANDLERS):
        out = folder / "functions" / handler
        out.mkdir(parents=True)
        FunctionCodeBundler(handler, bytecode).try_bundle(str(out))
        trees[handler] = out
    return trees


def environments(folder: Path) -> dict[str, dict[str, str]]:
    """Each handler folder's environment from the synthesized template, and the function's name."""
    synthesize(folder / "cdk.out", {"doverunner:registerTopic": True})  # every function, the registrar too
    template = json.loads((folder / "cdk.out" / "DoveRunnerDetection.template.json").read_text())
    found: dict[str, dict[str, str]] = {}
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties") or {}
        if resource["Type"] != "AWS::Lambda::Function" or "Handler" not in properties:
            continue
        handler = properties["Handler"].split(".")[0]
        variables = (properties.get("Environment") or {}).get("Variables") or {}
        found[handler] = {
            **{key: value if isinstance(value, str) else "stand-in" for key, value in variables.items()},
            "AWS_LAMBDA_FUNCTION_NAME": name,
        }
    return found


def run_once(code: str, path: list[Path], environment: dict[str, str]) -> tuple[float, str]:
    program = f"import sys\nsys.path[:0] = {[str(p) for p in path]!r}\n{code}"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-S", "-E", "-B", "-c", program], env=environment, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"a cold start failed:\n{done.stderr[-3000:]}")
    return seconds, done.stdout.strip()


def measure(runs: int, bytecode: str) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="cold-start-") as temporary:
        folder = Path(temporary)
        compiler = ThisInterpreter() if bytecode == "compiled" else None
        runtime = runtime_tree(folder)
        layer = layer_tree(folder, compiler)
        functions = function_trees(folder, compiler)
        env_of = environments(folder)
        base = {**LAMBDA_ENVIRONMENT, "PATH": os.environ.get("PATH", "")}
        subjects: dict[str, tuple[str, list[Path], dict[str, str]]] = {
            "floor": (FLOOR + "print(len(sys.modules))\n", [runtime], base)
        }
        for handler, tree in functions.items():
            environment = {**base, **env_of.get(handler, {})}
            imported = IMPORT.format(module=f"{handler}.handler")
            subjects[handler] = (imported, [tree, layer, runtime], environment)
            clients = CLIENTS.format(names=first_call_factories(handler))
            subjects[f"{handler}+clients"] = (imported + clients, [tree, layer, runtime], environment)
        times: dict[str, list[float]] = {name: [] for name in subjects}
        modules: dict[str, str] = {}
        for code, path, environment in subjects.values():
            run_once(code, path, environment)  # a first run off the clock: the files into the page cache
        for _ in range(runs):
            for name, (code, path, environment) in subjects.items():
                seconds, printed = run_once(code, path, environment)
                times[name].append(seconds)
                modules[name] = printed

    def ratio(values: list[float]) -> float:
        # Paired: each round's time over the floor's of the same round, so a noisy moment cancels out.
        return statistics.median(value / base for value, base in zip(values, times["floor"], strict=True))

    rows = []
    for name, values in times.items():
        if name.endswith("+clients"):
            continue
        built = times.get(f"{name}+clients", values)
        rows.append(
            {
                "name": name,
                "bytecode": bytecode,
                "modules": modules[name],
                "init_ms": statistics.median(values) * 1000,
                "init_ratio": ratio(values),
                "clients_ms": statistics.median(built) * 1000,
                "clients_ratio": ratio(built),
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per handler (at least 7)")
    parser.add_argument("--bytecode", choices=("none", "compiled", "both"), default="both")
    args = parser.parse_args()
    if args.runs < 7:
        parser.error("--runs must be at least 7")
    modes = ("none", "compiled") if args.bytecode == "both" else (args.bytecode,)
    not_shipped = ", ".join(sorted(PROVIDED_BY_RUNTIME))
    print(f"python {sys.version.split()[0]}; {args.runs} fresh processes each; the layer without {not_shipped}\n")
    print("| bytecode | handler | modules | init ms | x floor | init + its clients ms | x floor |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for mode in modes:
        for row in measure(args.runs, mode):
            print(
                f"| {row['bytecode']} | {row['name']} | {row['modules']} | {row['init_ms']:.0f} | "
                f"{row['init_ratio']:.2f} | {row['clients_ms']:.0f} | {row['clients_ratio']:.2f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
