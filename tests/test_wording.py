"""hwnas/wording.py: counts with their noun in the right number."""

from __future__ import annotations

from hwnas.wording import counted


def test_one_takes_the_singular_and_any_other_count_the_plural():
    assert counted(1, "seed") == "1 seed" and counted(0, "seed") == "0 seeds" and counted(2, "seed") == "2 seeds"
    assert counted(["nsga2"], "strategy", "strategies") == "1 strategy"
    assert counted(range(3), "strategy", "strategies") == "3 strategies"
