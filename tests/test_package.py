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
