"""The SearchSpace base and make_space: what a plugin space may do with its genes."""

import pytest

from hwnas.exceptions import SpaceError
from hwnas.space.base import SPACES, Gene, SearchSpace, make_space


class _ClassGenes(SearchSpace):
    genes = [Gene("op", ("a", "b"))]  # listed on the class, not set in __init__

    def decode(self, genome):
        return self.genes[0].choices[int(self.validate(genome)[0])]

    def encode(self, arch):
        return [self.genes[0].choices.index(arch)]

    def canonical(self, arch):
        return arch

    def parse(self, text):
        return text

    def build(self, arch):
        raise NotImplementedError


class _NoGenes(_ClassGenes):
    genes = []


class _NotGenes(_ClassGenes):
    genes = [("op", ("a", "b"))]


class _TupleGenes(_ClassGenes):
    def __init__(self, input_shape, output_dim):
        super().__init__(input_shape, output_dim)
        self.genes = (Gene("op", ("a", "b")),)  # a tuple set in __init__: as good as a list


class _NoSuper(_ClassGenes):
    def __init__(self, input_shape, output_dim):  # forgets super().__init__(input_shape, output_dim)
        self.genes = [Gene("op", ("a", "b"))]


@pytest.fixture
def registered():
    names = {"audit-class-genes": _ClassGenes, "audit-no-genes": _NoGenes, "audit-not-genes": _NotGenes,
             "audit-tuple-genes": _TupleGenes, "audit-no-super": _NoSuper}
    for name, cls in names.items():  # unregistered after the test by conftest
        SPACES.add(name, cls)


def test_genes_listed_on_the_class_are_kept(registered):
    space = make_space("audit-class-genes", (4,), 2)
    assert space.n_genes == 1 and space.smallest() == "a"
    assert space.genes is not _ClassGenes.genes  # an instance's list, not the class's
    assert make_space("audit-tuple-genes", (4,), 2).genes == [Gene("op", ("a", "b"))]


@pytest.mark.parametrize("name", ["audit-no-genes", "audit-not-genes"])
def test_a_space_without_genes_is_refused_in_one_line(registered, name):
    with pytest.raises(SpaceError, match=r"not a non-empty list of Gene; set self.genes = \[Gene\(...\), ...\] "
                                         r"after super\(\).__init__\(\)$"):
        make_space(name, (4,), 2)


def test_a_space_that_skips_the_base_init_is_refused_in_one_line(registered):
    # its missing input_shape was an AttributeError traceback from the first cost model built
    with pytest.raises(SpaceError, match=r"^space 'audit-no-super' \(_NoSuper\) has no input_shape or output_dim: "
                                         r"its __init__ does not call super\(\)\.__init__\(input_shape, output_dim\); "
                                         r"call it first$"):
        make_space("audit-no-super", (4,), 2)


def test_n_genomes_counts_every_genome_exactly():
    space = make_space("nb201", None, None)
    assert space.n_genomes == 5 ** 6 == 15625  # the count the runner's summary and the table estimator use
    many = _ClassGenes((4,), 2)
    many.genes = [Gene(f"g{i}", tuple(range(10))) for i in range(30)]  # past int64: still exact
    assert many.n_genomes == 10 ** 30


class _LossyParse(_ClassGenes):
    genes = [Gene("op", ("a", "b"))]

    def parse(self, text):
        return "a"  # forgets the choice: export and resume would rebuild another network


class _RaisingParse(_ClassGenes):
    def parse(self, text):
        raise KeyError(text)


def test_a_space_whose_parse_does_not_invert_canonical_is_refused_in_one_line():
    SPACES.add("audit-lossy-parse", _LossyParse)  # unregistered after the test by conftest
    SPACES.add("audit-raising-parse", _RaisingParse)
    with pytest.raises(SpaceError, match=r"^space 'audit-lossy-parse' \(_LossyParse\): parse\(\) does not invert "
                                         r"canonical\(\) on 'b' \(it parses to 'a'\); make parse\(canonical\(arch\)\) "
                                         r"give an architecture with the same canonical string$"):
        make_space("audit-lossy-parse", (4,), 2)
    with pytest.raises(SpaceError, match=r"on 'a' \(parse raises KeyError: 'a'\)"):
        make_space("audit-raising-parse", (4,), 2)
