"""The generic registry: unknown names and option keys suggest the likeliest valid one."""

import pytest

from hwnas.exceptions import ConfigError
from hwnas.registry import construct


class _Thing:
    def __init__(self, size: int, *, widths=(1,), depths=(2,)) -> None:
        self.widths, self.depths = widths, depths


def test_construct_suggests_close_options_and_the_table_s_other_keys():
    with pytest.raises(ConfigError, match=r"^here: 'thing' has no option\(s\) 'widht', 'zzz'; valid options: widths, "
                                          r"depths; did you mean 'widths' for 'widht'\?$"):
        construct(_Thing, 1, options={"widht": [1], "zzz": 1}, where="here", label="thing")
    with pytest.raises(ConfigError, match=r"^here: 'thing' has no option\(s\) 'evalutions'; valid options: widths, "
                                          r"depths; also valid here: evaluations, seed; did you mean 'evaluations'\?$"):
        construct(_Thing, 1, options={"evalutions": 6}, where="here", label="thing", also=("evaluations", "seed"))
    with pytest.raises(ConfigError, match=r"^here: 'thing' has no option\(s\) 'zzz'; valid options: widths, depths$"):
        construct(_Thing, 1, options={"zzz": 1}, where="here", label="thing")
    assert construct(_Thing, 1, options={"widths": (3,)}, where="here", label="thing").widths == (3,)


def test_suggestions_survive_non_text_values_from_a_config():
    from hwnas.registry import did_you_mean

    # [cost] models = [0] with a misspelt key: found by the malformed-input fuzz test
    assert did_you_mean(["modles"], ["models", 0]) == "; did you mean 'models'?"
