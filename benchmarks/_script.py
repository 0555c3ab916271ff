"""What the benchmark scripts share: hwnas's one-line errors, a seeds flag, and one latency table
level for runs compared side by side.

Imported as ``_script`` (a script's own folder is first on ``sys.path``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, NoReturn


def run(main: Callable[[], int | None]) -> NoReturn:
    """Run a script's ``main``: an :class:`~hwnas.exceptions.HwnasError` (a bad table, config,
    column or option) ends as one ``<script>: error: ...`` line and exit code 2, as ``hwnas``
    itself prints it, instead of a traceback."""
    from hwnas.exceptions import HwnasError

    try:
        raise SystemExit(main())
    except HwnasError as exc:
        print(f"{Path(sys.argv[0]).name}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def seed_list(low: int = 0, why: str = "") -> Callable[[str], list[int]]:
    """argparse type: comma-separated seeds, each >= ``low`` (``why`` says why, if not 0)."""
    def parse(text: str) -> list[int]:
        try:
            seeds = [int(v) for v in text.split(",") if v.strip()]
        except ValueError:
            seeds = []
        if not seeds or min(seeds) < low:
            example = ",".join(str(low + i) for i in range(3))
            raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of seeds >= {low}, "
                                             f"e.g. {example}" + (f" ({why})" if why else ""))
        return seeds

    return parse


def table_level(config_path: str) -> dict[str, dict]:
    """``{"cost": {"lut": {"level": x}}}``: the config's latency table level on this machine, measured
    once so that two runs predict alike (empty when latency is not read from a table)."""
    from hwnas.components import build_components
    from hwnas.config import load_config

    config = load_config(config_path)
    lut = next((c for c in build_components(config, with_estimator=False).cost_models
                if c.name == "lut" and c.level_auto), None)
    if lut is None:
        return {}
    lut.settle_level()
    print(f"latency table level for the runs made now: {lut.level:g}")
    return {"cost": {"lut": {**(config.cost.get("lut") or {}), "level": lut.level}}}
