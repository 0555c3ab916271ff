"""The ``lut`` cost model: latency predicted from a per-layer lookup table.

The table file, its checks and how it is found are in :mod:`hwnas.cost.lut_table` and
:mod:`hwnas.cost.lut_paths`; how layer latencies add up to a network's is in
:mod:`hwnas.cost.lut_calibration`. This module prices architectures with a table, settles the
machine's level against it, re-measures a front on the runtime, and decides whether a search
reads a table or times every candidate (:func:`latency_choice`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np
import torch

from ..exceptions import LatencyTableError, SpaceError
from ..space.base import shape_text
from .base import COST_MODELS, CostModel
from .device import local_device
from .lut_paths import find_table
from .lut_table import (LatencyTable, profile_command, refuse_unmarked_remote, table_to_build,
                        unmarked_remote_tables, unreadable_tables)
from .target import Target

#: How a search gets latency: a table when one fits (auto), a table or an error (lut), or timing
#: every candidate on the runtime (measure).
LATENCY_MODES = ("auto", "lut", "measure")


#: A table's measured level within this of 1 keeps the table's own latencies (about the level
#: check's own spread); beyond, the level is rounded to a multiple of :data:`LEVEL_STEP` (see
#: :meth:`LutCostModel.settle_level`). Coarser steps cost accuracy: a 0.05 step put a level
#: measured at 0.823 at 0.8, every prediction ~3 % low and 1 % of networks outside ±10 %.
LEVEL_TOLERANCE = 0.02
LEVEL_STEP = 0.01
#: A re-measured front this far off its predictions gets a note (:meth:`LutCostModel.verify_front`).
FRONT_OFF_NOTE = 0.05


def settled_level(measured: float) -> float:
    """The level a measured one settles at: 1 (the table's own latencies) within
    :data:`LEVEL_TOLERANCE`, else rounded to a multiple of :data:`LEVEL_STEP` (at least one step)."""
    if abs(measured - 1.0) <= LEVEL_TOLERANCE:
        return 1.0
    return round(max(LEVEL_STEP, round(measured / LEVEL_STEP) * LEVEL_STEP), 2)


@COST_MODELS.register("lut")
class LutCostModel(CostModel):
    """Latency predicted from a per-layer lookup table (see :class:`LatencyTable`).

    Args:
        target: the run's target; the table must have been built for it.
        input_shape: one sample's shape; the table must have been built for it.
        space: the search space (gives every architecture's layer signatures).
        path: the table file (default ``latency_tables/<target>/<device>/<space>-<CxHxW>.json``).
        config_source: the run config's file, for the rebuild command in messages.
        level: this machine's speed against the table's, a factor on every prediction:
            ``"auto"`` (the default) leaves 1 here and lets the search measure it once
            (:meth:`reference_level`) and record the number in the run's config; a number sets it.
            Machines that share a CPU name, which is all ``latency_tables/`` is filed under, can
            differ in speed (a cloud VM's "Intel(R) Xeon(R) Processor" spans generations) while
            the table's ranking of architectures holds.
        table: the table at that file, already read (by :func:`latency_choice`), so that it is
            not parsed again; None reads the file.

    Raises:
        LatencyTableError: no table, a table for another target/runtime version/device/input size,
            or a layer of the space without an entry; each names the fix.
        ConfigError: a ``level`` that is neither ``"auto"`` nor a number > 0.
    """

    name = "lut"
    provides = ("latency_ms",)
    needs_model = False
    needs_space = True

    #: Reference networks timed for :meth:`reference_level`: the table's first calibration networks
    #: (the space's smallest and largest, then random ones).
    REFERENCE_NETWORKS = 4
    #: Times they are timed, the level being the median: one timing (~0.7 s) varies by ~10 % on a busy machine.
    REFERENCE_REPEATS = 3

    def __init__(self, target: Target, input_shape: tuple[int, ...], *, space: Any = None,
                 path: str | None = None, config_source: str | None = None, level: float | str = "auto",
                 table: LatencyTable | None = None) -> None:
        super().__init__(target, input_shape)
        from ..exceptions import ConfigError

        if level != "auto" and (isinstance(level, bool) or not isinstance(level, (int, float))
                                or not 0 < level < math.inf):
            raise ConfigError(f"level = {level!r} must be \"auto\" or a number > 0 (1: the table's "
                              f"own latencies)")
        self.level_auto = level == "auto"
        self.level = 1.0 if self.level_auto else float(level)
        if space is None:
            raise LatencyTableError("the lut cost model needs the search space (built by hwnas.components)")
        self.space = space
        try:
            signatures = space.all_layer_signatures()
        except SpaceError as exc:  # no table can exist: say so, not how to build one
            # worded for --latency lut and [cost] models = [..., "lut"] alike: either may have asked for it
            raise LatencyTableError(f"the lut cost model reads latency tables: {exc}") from None
        table_path = find_table(target, space, path, config_source)
        if table is None or table.path != table_path:
            table = LatencyTable.load(table_path) if table_path.is_file() else None
        self.fix = profile_command(target, space.name, config_source,
                                   path or table_to_build(target, space, config_source, table))
        if table is None:
            from ..exceptions import TargetError
            from .latency import require_provider

            try:  # a machine that cannot run the target can neither build a table nor time candidates
                require_provider(target)
            except TargetError as exc:
                raise LatencyTableError(
                    f"no latency table for target {target.name} ({table_path} does not exist), and this machine "
                    f"cannot build one: {str(exc).rstrip('.')}"
                    + ((unmarked_remote_tables(target, space) if not path else "")
                       or "; use a table built where the target runs: give its file as [cost.lut] path (its meta "
                          "marked \"remote\": true)")) from None
            raise LatencyTableError(
                f"no latency table for target {target.name} on {local_device(target)}, space {space.name}, input "
                f"{shape_text(space.input_shape)} ({table_path} does not exist{'' if path else unreadable_tables(target, space)}); "
                f"build it with `{self.fix}` or time every candidate with --latency measure")
        self.table = table
        refuse_unmarked_remote(self.table, target)
        self.table.check(target, space, self.fix)
        self.table.require(signatures, self.fix)
        if not self.table.meta.get("remote"):  # its level is timed here and its front re-measured here
            from ..exceptions import TargetError
            from .latency import require_provider

            try:
                require_provider(target)
            except TargetError as exc:
                raise LatencyTableError(
                    f"{self.table.where} is this machine's, but its target cannot run here: {str(exc).rstrip('.')}; "
                    f"mark the table \"remote\": true in its meta to use its predictions without timing, or "
                    f"use a target that runs here") from None

    def predict(self, archs: Sequence[str]) -> np.ndarray:
        """Predicted latency in ms of each canonical architecture string (the table's, times ``level``).

        Raises:
            ValueError: a prediction that is not a positive number (a calibration fitted on too few
                networks extrapolates below 0), naming the architecture and the fix: that candidate
                fails, the search goes on.
        """
        ms = self.level * self._table_ms(archs)
        bad = [(a, v) for a, v in zip(archs, ms) if not (np.isfinite(v) and v > 0)]
        if bad:
            raise ValueError(f"latency table {self.table.path} predicts {bad[0][1]:.4g} ms for {bad[0][0]}; "
                             f"its calibration does not hold there: rebuild it with more --calibration "
                             f"networks (`{self.fix}`), or time every candidate with --latency measure")
        return ms

    def _table_ms(self, archs: Sequence[str]) -> np.ndarray:
        return np.array([self.table.predict(self.space.layer_signatures(self.space.parse(a))) for a in archs])

    def reference_networks(self) -> list[str]:
        """The networks :meth:`reference_level` times: the first :data:`REFERENCE_NETWORKS` of the
        table's calibration networks that this run's space holds (a config that narrows the space's
        choices, ``widths = [0.25, 0.5]``, cannot build the others); empty for a remote table.

        Raises:
            HwnasError: the space holds none of them.
        """
        calibrated = list(self.table.calibration.get("networks") or [])
        if self.table.meta.get("remote") or not calibrated:
            return []
        from ..exceptions import HwnasError, SpaceError

        networks = []
        for arch in calibrated:
            try:
                self.space.parse(arch)
            except SpaceError:
                continue
            networks.append(arch)
            if len(networks) == self.REFERENCE_NETWORKS:
                return networks
        if not networks:
            raise HwnasError(f"none of the table's {len(calibrated)} calibration "
                             f"networks is in this run's {self.space.name} space")
        return networks

    def reference_level(self) -> float | None:
        """This machine's latency against the table's: measured over predicted, the median over
        :meth:`reference_networks` timed together here, and the median of
        :data:`REFERENCE_REPEATS` such timings (a few seconds). None for a remote table (its
        device is not this machine)."""
        networks = self.reference_networks()
        if not networks:
            return None
        from .models import OrtLatencyCostModel

        models = [self.space.build(self.space.parse(a)) for a in networks]
        timer, predicted = OrtLatencyCostModel(self.target, self.input_shape), self._table_ms(networks)
        levels = [np.median(np.array([m["latency_ms"] for m in timer.measure_many(networks, models)]) / predicted)
                  for _ in range(self.REFERENCE_REPEATS)]
        return float(np.median(levels))

    def settle_level(self) -> str | None:
        """Set :attr:`level` from :meth:`reference_level`: 1 (the table's own latencies) within
        :data:`LEVEL_TOLERANCE` of it, so timing noise does not move a run's predictions, else the
        measured level rounded to a multiple of :data:`LEVEL_STEP`.

        Returns:
            A one-line note for the user when the level is not 1 or could not be measured, else None.
        """
        from ..exceptions import HwnasError

        try:
            measured = self.reference_level()
        except HwnasError as exc:
            self.level = 1.0
            return (f"the latency table's reference networks could not be timed here ({str(exc).splitlines()[0]}); "
                    f"its latencies are used as they are")
        self.level = 1.0 if measured is None else settled_level(measured)
        if self.level == 1.0:
            return None
        return (f"this machine runs the latency table's reference networks at {measured:.3g}x its predictions (a "
                f"CPU of the same name at another speed, or a busy machine); every prediction is scaled by "
                f"{self.level:g} ([cost.lut] level = 1 keeps the table's own; `{self.fix}` builds one for this "
                f"machine)")

    def lowest(self, space: Any, smallest: str, model: torch.nn.Module | None) -> dict[str, tuple[float, str]]:
        """The lowest predicted latency found from ``smallest``, changing one gene at a time while
        that lowers it (two sweeps, a few hundred predictions): with calibration terms (a per-layer
        cost, memory thresholds) the smallest architecture need not be the cheapest.

        Raises:
            ValueError: the prediction for ``smallest`` is not a positive number (see :meth:`predict`).
        """
        best_ms, best = float(self.predict([smallest])[0]), smallest
        genome = space.encode(space.parse(smallest))
        for _ in range(2):
            improved = False
            for i, gene in enumerate(space.genes):
                tried = [genome.copy() for _ in range(gene.size)]
                for value, candidate in enumerate(tried):
                    candidate[i] = value
                archs = [space.canonical_genome(g) for g in tried]
                ms = self.level * self._table_ms(archs)
                j = int(np.argmin(np.where(np.isfinite(ms) & (ms > 0), ms, np.inf)))
                if np.isfinite(ms[j]) and 0 < ms[j] < best_ms:
                    best_ms, best, genome, improved = float(ms[j]), archs[j], tried[j], True
            if not improved:
                break
        return {"latency_ms": (best_ms, best)}

    def measure(self, arch: str, model: torch.nn.Module | None = None) -> dict[str, float]:
        """Predicted ``latency_ms`` of ``arch`` (the module is not needed)."""
        return {"latency_ms": float(self.predict([arch])[0])}

    def verify_front(self, archs: Sequence[str]) -> list[dict[str, float]]:
        """Re-measure predicted latencies on the runtime: ``latency_ms_predicted`` and ``_measured``.

        Tables of remote devices cannot be re-measured here; they get the prediction only.
        """
        predicted = self.predict(archs)
        rows = [{"latency_ms_predicted": float(p)} for p in predicted]
        if self.table.meta.get("remote") or not archs:
            return rows
        import sys

        from ..exceptions import TargetError
        from .models import OrtLatencyCostModel

        models = [self.space.build(self.space.parse(a)) for a in archs]
        try:
            measured = OrtLatencyCostModel(self.target, self.input_shape).measure_many(list(archs), models)
        except TargetError as exc:  # the machine changed since the search began (fewer cores): keep the outputs
            print(f"hwnas: note: the front's predicted latencies are not re-measured: {str(exc).splitlines()[0]}",
                  file=sys.stderr)
            return rows
        for row, m in zip(rows, measured):
            row["latency_ms_measured"] = m["latency_ms"]
        ratio = float(np.median(np.array([m["latency_ms"] for m in measured]) / predicted))
        if abs(ratio - 1.0) > FRONT_OFF_NOTE:
            print(f"hwnas: note: the front ran at {ratio:.3g}x its predicted latencies here (median of {len(archs)}; "
                  f"level {self.level:g}): a busy machine, or a table that no longer fits it; compare "
                  f"latency_ms_measured with latency_ms_predicted in front.csv, or rebuild it with `{self.fix}`",
                  file=sys.stderr)
        return rows

    def source(self) -> dict[str, Any]:
        return {"table": str(self.table.path), "date": self.table.meta.get("date"), "digest": self.table.digest()}

    def describe(self) -> dict[str, Any]:
        """The target's description plus the table's file and build date."""
        return {**super().describe(), "table": str(self.table.path), "table_date": self.table.meta.get("date"),
                "level": self.level}


def _require_timing(target: Target, space, path: Path, note: str) -> None:
    """Refuse, naming why the table was not used, a fallback to timing on a machine that cannot
    run the target (a phone's or a GPU box's): the provider's error alone would hide the table's.

    Raises:
        LatencyTableError: the table's problem, why timing here is no way out, and the fix.
    """
    from ..exceptions import TargetError
    from .latency import require_provider

    try:
        require_provider(target)
    except TargetError as exc:
        why = note.split("; timing every candidate instead")[0]
        fix = ("" if path.is_file() else  # the table's own message says how to mend it
               unmarked_remote_tables(target, space) or
               f"; use a table built where the target runs: latency_tables/{target.name}/<its device>/"
               f"{space.name}-{shape_text(space.input_shape)}.json with \"remote\": true in its meta, "
               f"or [cost.lut] path")
        raise LatencyTableError(f"{why}; and this machine cannot time every candidate instead: "
                                f"{str(exc).splitlines()[0].rstrip('.')}{fix}") from None


class LatencyChoice(NamedTuple):
    """What :func:`latency_choice` resolved ``[cost] latency`` to."""

    #: the cost-model names, ``ort`` or ``lut`` in place of either
    names: list[str]
    #: why latency is timed rather than read from a table (one line, for the search to print), or None
    note: str | None
    #: the table ``auto`` read and checked when it chose ``lut`` (for :class:`LutCostModel`, which
    #: then does not parse it again), else None
    table: LatencyTable | None


def latency_choice(names: list[str], cost: Mapping[str, Any], space: Any, *, explicit: bool,
                   source: str = "<config>", target: Target | None = None) -> LatencyChoice:
    """Resolve ``[cost] latency`` (``auto``, ``lut``, ``measure``) into the cost-model list.

    ``measure`` times every candidate (``ort``), ``lut`` predicts from the table (``lut``);
    ``auto`` (the default) picks ``lut`` when a table for (target, space, input size) exists and
    is valid here, else ``measure``, and then says why in the returned note (one line, for the
    search to print) unless the space cannot have a table. With ``auto``, an explicit
    ``[cost] models`` list is kept, unless ``[cost.lut] path`` names a table to use.

    Args:
        target: ``cost["target"]`` already loaded (the run's); None loads it here.

    Returns:
        The cost-model names, the note (None when there is nothing to say), and the table read
        when ``auto`` chose it.

    Raises:
        ConfigError: an unknown ``latency`` value, or ``latency`` / ``[cost.lut] path`` set for a
            models list without a latency model (nothing would read them).
        LatencyTableError: ``[cost.lut] path`` names a file that does not exist (unless
            ``latency = "measure"``, which reads no table).
    """
    from ..exceptions import ConfigError
    from ..registry import did_you_mean, option_names
    from .target import load_target

    mode = cost.get("latency", "auto")
    if mode not in LATENCY_MODES:
        raise ConfigError(f"{source} [cost] latency = {mode!r} is not valid; use one of {', '.join(LATENCY_MODES)}")
    options = cost.get("lut") if isinstance(cost.get("lut"), Mapping) else {}
    valid = sorted(option_names(LutCostModel) - {"target", "input_shape", "space", "config_source", "table"})
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ConfigError(f"{source} unknown [cost.lut] key(s) {unknown}; valid: {valid}{did_you_mean(unknown, valid)}")
    given = options.get("path")
    if given and mode != "measure" and not Path(given).is_file():
        what = "is a folder" if Path(given).is_dir() else "does not exist"
        raise LatencyTableError(f"{source} [cost.lut] path = {str(given)!r} {what}; point it at a table file "
                                f"built by `hwnas profile`, or remove the key to use latency_tables/")
    note = None
    if not ({"ort", "lut"} & set(names)):  # no latency model: nothing to resolve, and nothing to say it to
        if mode != "auto" or options:
            what = (f"[cost] latency = {mode!r}" if mode != "auto"
                    else f"[cost.lut] {', '.join(f'{k} = {v!r}' for k, v in options.items())}")
            raise ConfigError(f"{source} {what}: [cost] models = {names} has no latency model (ort or lut) to "
                              f"read it; add \"ort\" to [cost] models, or remove the key")
        return LatencyChoice(names, note, None)
    if mode == "auto" and explicit and not given and options and "lut" not in names:
        raise ConfigError(f"{source} [cost.lut] {', '.join(f'{k} = {v!r}' for k, v in options.items())}: [cost] models "
                          f"= {names} times latency (ort) and reads no table; remove [cost.lut], or put \"lut\" in "
                          f"[cost] models")
    if (mode == "auto" and explicit and not given) or "target" not in cost:
        return LatencyChoice(names, note, None)  # an explicit list is kept, unless it names a table to use
    table = None
    if mode == "auto":
        target = load_target(cost["target"]) if target is None else target
        path = find_table(target, space, given, source)
        mode = "measure"
        try:
            signatures = space.all_layer_signatures()
        except SpaceError as exc:  # this space cannot have a table: timing is the only way
            signatures = None
            if given:  # ... which the user, naming a table, did not expect
                note = f"[cost.lut] path = {str(given)!r} is not used: {exc}"
        if signatures is not None and path.is_file():
            try:
                table = LatencyTable.load(path)
            except LatencyTableError as exc:
                note = f"{str(exc).rstrip('.')}; timing every candidate instead (--latency measure)"
        if signatures is not None:  # the rebuild hint, from the table just read where it is latency_tables/'s
            fix = profile_command(target, space.name, source, given or table_to_build(target, space, source, table))
        if signatures is not None and not path.is_file():
            note = (f"no latency table for target {target.name} on {local_device(target)}, space {space.name}, "
                    f"input {shape_text(space.input_shape)} ({path} does not exist{unreadable_tables(target, space)}); "
                    f"timing every candidate instead; "
                    f"build one with `{fix}`, or pass --latency measure")
        elif table is not None:
            refuse_unmarked_remote(table, target)  # nor can candidates be timed here: an error, not a note
            try:
                table.check(target, space, fix)
                table.require(signatures, fix)
                mode = "lut"
            except LatencyTableError as exc:  # --latency lut turns this into an error
                note = f"{str(exc).rstrip('.')}; timing every candidate instead (--latency measure)"
        if mode == "measure" and signatures is not None:
            _require_timing(target, space, path, note)
    wanted = "lut" if mode == "lut" else "ort"
    return LatencyChoice([wanted if n in ("ort", "lut") else n for n in names], note,
                         table if mode == "lut" else None)
