"""A latency table's settings a search settles once and writes into its run's config: the
table's level on this machine, and the path of a table found beside the config, so the run's
workers and a resumed session predict alike."""

from __future__ import annotations

import sys
from pathlib import Path

from ..config import RunConfig


def resolve_table_level(config: RunConfig, parts, *, resume: bool, stored_config: dict | None) -> None:
    """Set a latency table's level on this machine (``[cost.lut] level = "auto"``, the default):
    measured once per run (:meth:`~hwnas.cost.lut.LutCostModel.settle_level`, which says when it
    scales the table) and written into the run's config, so its workers and a resumed session
    predict alike.

    Args:
        config: the run's config; its ``[cost.lut]`` gets the level (and the table's path).
        parts: the run's components (:func:`hwnas.components.build_components`).
        resume: a ``--resume``: the stored run's level, not one measured now.
        stored_config: the stored run's config on a resume.
    """
    _record_own_table(config, parts, resume=resume, stored_config=stored_config)
    lut = next((c for c in parts.cost_models if c.name == "lut" and c.level_auto), None)
    if lut is None:
        return
    if resume:  # the stored run's level
        stored = (stored_config or {}).get("cost", {}).get("lut", {})
        level = stored.get("level") if isinstance(stored, dict) else None
        if not isinstance(level, (int, float)) or isinstance(level, bool):
            return  # a run from before levels: the table's own latencies, and its config as stored
        lut.level = float(level)
    else:
        note = lut.settle_level()
        if note:
            print(f"hwnas: note: {note}", file=sys.stderr)
    config.cost["lut"] = {**(config.cost.get("lut") or {}), "level": lut.level}


def _record_own_table(config: RunConfig, parts, *, resume: bool, stored_config: dict | None) -> None:
    """Write the path of a latency table found beside the config (the config's own table,
    :func:`~hwnas.cost.lut_paths.own_table_path`) into the run's config: its config.json, read
    from the run folder, would not find it there and would run on the shipped table instead.
    Not on a resume of a run stored without it."""
    from ..cost.lut_paths import own_table_path

    lut = next((c for c in parts.cost_models if c.name == "lut"), None)
    given = config.cost.get("lut") or {}
    if lut is None or given.get("path"):
        return
    if resume and not ((stored_config or {}).get("cost", {}).get("lut") or {}).get("path"):
        return
    own = own_table_path(parts.space, str(config.source))
    if own is not None and Path(lut.table.path) == own:
        config.cost["lut"] = {**given, "path": str(own.resolve())}
