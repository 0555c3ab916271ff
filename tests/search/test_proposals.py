"""What a strategy proposes, checked (:mod:`hwnas.search.proposals`): a genome the space refuses,
or one a plugin space mishandles, is named in one line.

A plugin space whose decode() raises stays in tests/search/test_runner.py: its message names the
plugin's module, and the fixture that defines it lives there.
"""

import pytest

from hwnas.search.runner import run_search


def test_a_genome_the_space_refuses_is_blamed_on_the_strategy(tmp_path, make_config, monkeypatch):
    import numpy as np

    from hwnas.exceptions import SpaceError
    from hwnas.search.strategies.nsga2 import NSGA2Strategy

    monkeypatch.setattr(NSGA2Strategy, "ask", lambda self: np.zeros((1, 2), dtype=np.int64))
    with pytest.raises(SpaceError, match=r"^strategy 'nsga2' proposed a genome the mlp space refuses \(.*\); its "
                                         r"ask\(\) must return integers of shape \(n, \d+\)"):
        run_search(make_config(), tmp_path / "r", progress=False)


def test_a_plugin_space_whose_canonical_is_no_string_is_blamed_on_the_space(tmp_path, make_config, monkeypatch):
    # it was the store's key: sqlite refused it, and the message said to free disk space
    from hwnas.exceptions import SpaceError
    from hwnas.space.mlp import MLPSpace

    text = MLPSpace.canonical
    monkeypatch.setattr(MLPSpace, "canonical", lambda self, arch: (text(self, arch),))
    with pytest.raises(SpaceError, match=r"^space 'mlp' \(hwnas\.space\.mlp\.MLPSpace\) canonical\(\) returned tuple "
                                         r"\(.*\) for the genome \[.*\], not a string; return a string that its "
                                         r"parse\(\) reads back$"):
        run_search(make_config(), tmp_path / "r", progress=False)


def test_a_single_flat_genome_is_named_by_its_shape():
    # it was read as 4 genomes of one gene: "genome has 1 genes, the space needs 4"
    import numpy as np

    from hwnas.exceptions import SpaceError
    from hwnas.search.proposals import canonical_archs
    from hwnas.space.base import make_space

    space = make_space("mlp", (4,), 2)
    with pytest.raises(SpaceError, match=rf"^strategy 'mine' proposed an array of shape \({space.n_genes},\), not "
                                         rf"\(n, {space.n_genes}\); its ask\(\) must return one genome per row \(a "
                                         r"single genome g as g\[None\]\)"):
        canonical_archs(space, np.zeros(space.n_genes, dtype=np.int64), "mine")
    with pytest.raises(SpaceError, match=r"proposed an array of shape ragged"):
        canonical_archs(space, [[0] * space.n_genes, [0]], "mine")
    assert len(canonical_archs(space, [[0] * space.n_genes], "mine")) == 1  # a list of rows is fine
