"""The failure of one candidate's cost measurement.

Deliberately not a :class:`~hwnas.exceptions.HwnasError`: those are user or environment errors
that stop a run, while a candidate whose model cannot be exported or run is data. The
evaluation loop stores it as failed, with this message as the reason, and the search goes on.
"""

from __future__ import annotations


class CostMeasurementError(RuntimeError):
    """One model could not be exported to ONNX or run by the runtime; the message says why."""
