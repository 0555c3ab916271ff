"""``hwnas profile``: build a latency table for a target and space, check it, describe the device.

One build:

1. every layer signature the space can produce at the task's input size is exported alone;
2. distinct random whole networks are drawn: ``calibration`` of them (plus the smallest and the
   largest architecture) to fit the table's calibration, and ``fidelity`` others, never used for
   fitting, to check it;
3. the layers are timed together in one interleaved measurement (minimum of per-pass medians,
   :func:`~hwnas.cost.latency.measure_latency`), so the speed drift of a shared machine hits
   all of them alike; the calibration and fidelity networks are timed in sessions of a search's
   size (:data:`CHUNK`), each with anchor networks that put every session on the level of the
   layers' session (:func:`measure_in_chunks`);
4. the calibration ``latency = a * sum_ms + sum_g a_g * sum_ms:g + b * n_layers + sum_k d_k *
   max(0, memory_m - C_k) + c`` (extra scales for layer groups such as squeeze-excite blocks, a
   per-layer boundary cost, the cost of memory beyond what stays cached, a constant; see
   :func:`calibration_features` and :func:`fit_calibration`) is fitted on the calibration
   networks (relative least squares), then per-layer corrections of its residuals (ridge
   regression, penalty by cross-validation, shared by similar layers;
   :class:`~hwnas.cost.lut_calibration.ResidualRidge`): what a layer costs inside a network but not alone;
5. the fidelity networks are timed a second time, in a separate measurement with fresh
   sessions: the two measurements of the same networks give the noise ceiling (how well the
   device agrees with itself), reported next to the table's error against each measurement,
   and the table's own error next to one measurement's noise (:func:`error_sources`);
6. a device report: runtime and version, providers, threads, CPU/GPU, a per-op-type breakdown of
   a reference network from ONNX Runtime's profiler, and latency against batch size.

Where each part lives:

* :mod:`~hwnas.profile.build`: :func:`build_table` (the steps above), network sampling, the metadata header;
* :mod:`~hwnas.profile.measure`: ONNX export, timing networks in anchored sessions, layer memory (steps 1, 3);
* :mod:`~hwnas.profile.fit`: fitting the calibration (step 4);
* :mod:`~hwnas.profile.fidelity`: agreement, error sources, τ against the noise ceiling (step 5);
* :mod:`~hwnas.profile.device`: the device report (step 6);
* :mod:`~hwnas.profile.report`: the report text (:func:`format_report`).

Example:
    >>> table = build_table(load_target("cpu-ort-1t"), space)        # doctest: +SKIP
    >>> print(format_report(table))                                   # doctest: +SKIP
"""

from __future__ import annotations

from .build import TABLE_PASSES, build_table, sample_distinct, table_meta
from .device import REPORT_BATCHES, describe_device, op_breakdown
from .fidelity import (LEVEL_SHIFT_PCT, MIN_TAU_NETWORKS, agreement, error_sources, level_shift_warning, tau_gap,
                       tau_gap_line)
from .fit import (ACTIVATION_SHARES, MAX_MEMORY_THRESHOLDS, NETWORKS_PER_COEF, calibration_features,
                  calibration_size_warning, fit_calibration)
from .measure import ANCHORS, CHUNK, export_model, export_models, layer_memory, measure_in_chunks
from .report import format_report

__all__ = [
    "ACTIVATION_SHARES", "ANCHORS", "CHUNK", "LEVEL_SHIFT_PCT", "MAX_MEMORY_THRESHOLDS", "MIN_TAU_NETWORKS",
    "NETWORKS_PER_COEF", "REPORT_BATCHES", "TABLE_PASSES",
    "agreement", "build_table", "calibration_features", "calibration_size_warning", "describe_device",
    "error_sources", "export_model", "export_models", "fit_calibration", "format_report", "layer_memory",
    "level_shift_warning", "measure_in_chunks", "op_breakdown", "sample_distinct", "table_meta", "tau_gap",
    "tau_gap_line",
]
