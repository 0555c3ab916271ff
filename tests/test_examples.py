"""Every shipped example config loads and builds what a search needs (dataset, space, estimator,
cost models), so an example never rots unnoticed. Fashion-MNIST examples need the Debian package."""

from pathlib import Path

import pytest

from hwnas.components import build_components
from hwnas.config import load_config
from hwnas.data.fashion_mnist import DEFAULT_PATH

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.toml"))
HAVE_FASHION_MNIST = (Path(DEFAULT_PATH) / "train-images-idx3-ubyte.gz").exists()


def test_there_are_examples():
    assert {p.name for p in EXAMPLES} >= {"digits.toml", "digits_fidelity.toml", "fashion_mnist.toml"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_builds(path):
    config = load_config(path)
    if config.task["dataset"] == "fashion_mnist" and not HAVE_FASHION_MNIST:
        pytest.skip("Debian package dataset-fashion-mnist is not installed")
    parts = build_components(config)
    assert parts.space.n_genes > 0
