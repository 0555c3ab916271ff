"""The curated public API resolves, and importing hwnas stays light."""

import subprocess
import sys

import hwnas


def test_every_public_name_resolves():
    for name in hwnas.__all__:
        assert getattr(hwnas, name) is not None, name


def test_import_does_not_load_torch():
    code = "import sys, hwnas; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_dir_lists_the_lazily_imported_names():
    assert {"run_search", "load_run", "compress_run", "build_chains"} <= set(dir(hwnas))


def test_every_third_party_import_is_a_declared_dependency():
    """A fresh `pip install hwnas` must bring every module the package imports, directly or in a
    function (optional ones through an extra): one that only arrives as another package's
    dependency can vanish with that package's next release."""
    import ast
    import re
    import tomllib
    from pathlib import Path

    root = Path(hwnas.__file__).parent
    project = tomllib.loads((root.parent / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + sum(project["optional-dependencies"].values(), [])
    names = {re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0].lower().replace("-", "_") for d in declared}
    module_of = {"scikit_learn": "sklearn", "torch_pruning": "torch_pruning"}
    provided = {module_of.get(n, n) for n in names} - {"hwnas"}
    imported = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    # `require(module, extra)` imports an optional dependency by name
    for path in root.rglob("*.py"):
        imported |= set(re.findall(r'require\("([a-z_]+)', path.read_text()))
    third_party = {m for m in imported if m not in sys.stdlib_module_names and m != "hwnas"}
    assert third_party - provided == set()
