"""Where latency tables live and which one a search reads.

``hwnas profile`` writes this machine's table to
``latency_tables/<target>/<device folder>/<space>-<CxHxW>.json`` (:func:`local_table_path`, one
folder per processor or GPU, :mod:`hwnas.cost.device`); a config's own table sits beside it
(:func:`own_table_path`); a table built on a device hwnas cannot run is found in any device
folder of its target when it says ``"remote": true`` (:func:`find_table`).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..exceptions import LatencyTableError
from ..space.base import shape_text
from .device import device_folder, local_device
from .target import Target, targets_dir


def tables_dir() -> Path:
    """The repository's ``latency_tables/`` folder."""
    return targets_dir().parent / "latency_tables"


def local_table_path(target: Target, space) -> Path:
    """Where ``hwnas profile`` writes this machine's table:
    ``latency_tables/<target>/<device folder>/<space>-<CxHxW>.json``."""
    return (tables_dir() / target.name / device_folder(local_device(target))
            / f"{space.name}-{shape_text(space.input_shape)}.json")


def own_table_path(space, config_source: str | None) -> Path | None:
    """A config's own table, beside it: ``<config dir>/<config stem>-<space>-<CxHxW>.json``
    (:func:`beside_config`), which its searches read ahead of ``latency_tables/`` when it exists
    (:func:`find_table`); None without a config file."""
    if not config_source or config_source.startswith("<") or not Path(config_source).is_file():
        return None
    return beside_config(space, config_source)


def beside_config(space, config_source: str) -> Path:
    """``<config dir>/<config stem>-<space>-<CxHxW>.json``: a table of that config's own space."""
    config = Path(config_source)
    return config.parent / f"{config.stem}-{space.name}-{shape_text(space.input_shape)}.json"


def find_table(target: Target, space, path: str | Path | None = None, config_source: str | None = None) -> Path:
    """The table file for a target and space.

    ``path`` if given; else the config's own table beside it (:func:`own_table_path`) when that
    file exists; else where ``hwnas profile`` writes:
    ``latency_tables/<target>/<device folder>/<space>-<CxHxW>.json`` for this machine's device
    (see :func:`~hwnas.cost.device.device_folder`). When that file does not exist, a table built
    elsewhere (``"remote": true`` in its meta) in any folder ``latency_tables/<target>/*/`` with
    that file name is used instead, if there is exactly one. Without either, this machine's path
    is returned (it does not exist; callers say so).

    Raises:
        LatencyTableError: several remote tables fit; ``[cost.lut] path`` must pick one.
    """
    if path:
        return Path(path)
    own = own_table_path(space, config_source)
    if own is not None and own.is_file():
        return own
    here = local_table_path(target, space)
    if here.is_file():
        return here
    remote = [p for p in tables_elsewhere(target, space) if _is_remote(p)]
    if len(remote) > 1:
        raise LatencyTableError(f"several tables built elsewhere fit target {target.name}, space {space.name}, input "
                                f"{shape_text(space.input_shape)}: {', '.join(str(p) for p in remote)}; pick one "
                                f"with [cost.lut] path")
    return remote[0] if remote else here


def tables_elsewhere(target: Target, space) -> list[Path]:
    """Every file of this target, space and input size in any device folder of
    ``latency_tables/<target>/``, in name order (this machine's own included)."""
    return sorted((tables_dir() / target.name).glob(f"*/{space.name}-{shape_text(space.input_shape)}.json"))


def _is_remote(path: Path) -> bool:
    """Whether a file's meta says ``"remote": true`` (unreadable files are not; loading them says why)."""
    try:
        meta = json.loads(path.read_text()).get("meta")
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(meta, dict) and meta.get("remote") is True
