// Compiles Python sources with the CPython the Lambda runtime runs (Pyodide's build of the same version), for
// stacks/bytecode: argv[2] is a JSON file of [source, target] absolute paths, argv[3] the runtime's cache tag
// (cpython-314); prints one JSON line of the outcome. An interpreter of another version compiles nothing.
import { loadPyodide } from "pyodide";

const pyodide = await loadPyodide({ stdout: () => {}, stderr: (line) => process.stderr.write(`${line}\n`) });
pyodide.FS.mkdir("/host");
pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: "/" }, "/host");
pyodide.globals.set("manifest", process.argv[2]);
pyodide.globals.set("expected", process.argv[3]);
const outcome = pyodide.runPython(`
import json, os, py_compile, sys

failed = []
with open("/host" + manifest) as handle:
    pairs = json.load(handle) if sys.implementation.cache_tag == expected else []
for source, target in pairs:
    partial = f"/host{target}.{os.getpid()}.partial"
    try:
        # Unchecked hash: the runtime reads it without a stat of the source; dfile: tracebacks name the source.
        py_compile.compile("/host" + source, cfile=partial, dfile=source, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        os.replace(partial, "/host" + target)
    except (py_compile.PyCompileError, SyntaxError, ValueError):
        failed.append(source)
json.dumps({"version": ".".join(map(str, sys.version_info[:3])), "cache_tag": sys.implementation.cache_tag,
            "compiled": len(pairs) - len(failed), "failed": failed})
`);
process.stdout.write(`${outcome}\n`);
