"""Float reference vs integer golden execution of a real detector: SQNR and detection agreement.

For one quantization configuration (:class:`QuantConfig`) and calibrated ranges,
every held-out input runs through

* the float64 model (:func:`sw.runtime.floatexec.run_float`), the reference; and
* the integer golden model (:func:`sw.runtime.integer.run_integer` on a
  :func:`sw.runtime.integer.plan_calibrated` plan), whose outputs are dequantized.

Both are then decoded by the same float post-processing. Measured:

* per-layer SQNR ``10 log10(sum f^2 / sum (f - q)^2)`` (dB) of every layer output,
  ``q`` the dequantized integer output (errors accumulate through the network:
  this is end-to-end execution, not one layer in isolation), pooled over inputs;
* final-output SQNR per model output, pooled the same way;
* detection agreement (:func:`sw.detect.boxes.match_detections`, IoU >= 0.5,
  same class): matched, lost, gained, mean IoU and mean |score difference|,
  summed (counts) or match-weighted (means) over inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sw.detect.boxes import Agreement, Detections, match_detections
from sw.quant.calibration import MinMaxObserver, PercentileObserver
from sw.quant.ranges import Granularity
from sw.graph.bits import BitPolicy
from sw.runtime.executor import OBSERVER_VALUES, calibration_ranges, params_from_ranges
from sw.runtime.floatexec import run_float
from sw.runtime.integer import plan_calibrated, run_integer
from sw.graph.model import ImportedModel
from hwsim.app.studies.setups import RealSetup

__all__ = ["sqnr_db", "QuantConfig", "LayerSqnr", "Reference", "Evaluation", "CalibratedRanges",
           "calibrate_ranges", "float_reference", "evaluate", "pool_agreements", "GAMMAS"]

#: FQN Table 4 percentiles (0.999 is FQN's default).
GAMMAS = (0.999, 0.9973, 0.9545)


def sqnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    """Signal-to-quantization-noise ratio ``10 log10(sum r^2 / sum (r - t)^2)`` in dB.

    ``inf`` when the two are identical; ``-inf`` when the reference is all zero but
    the test is not.
    """
    r = np.asarray(reference, dtype=np.float64)
    t = np.asarray(test, dtype=np.float64)
    if r.shape != t.shape:
        raise ValueError(f"sqnr: shapes differ, {r.shape} vs {t.shape}")
    signal, noise = float(np.sum(r * r)), float(np.sum((r - t) ** 2))
    if noise == 0.0:
        return float("inf")
    if signal == 0.0:
        return float("-inf")
    return 10.0 * np.log10(signal / noise)


@dataclass(frozen=True)
class QuantConfig:
    """One quantization configuration.

    Attributes
    ----------
    label
        Row label in tables.
    bits
        Width policy (all layers and/or per part, ``(w_bits, a_bits)``).
    granularity
        Weight ranges per output channel (FQN) or per tensor.
    calibration
        Activation ranges: ``"percentile"`` (FQN) or ``"minmax"``.
    gamma
        Percentile (used when ``calibration == "percentile"``).
    """

    label: str
    bits: BitPolicy
    granularity: Granularity = "per_channel"
    calibration: str = "percentile"
    gamma: float = 0.999

    @property
    def observer(self) -> str:
        """Key of the calibrated ranges this configuration uses."""
        return "minmax" if self.calibration == "minmax" else f"percentile@{self.gamma}"


@dataclass(frozen=True)
class CalibratedRanges:
    """Activation ranges ``(lb, ub)`` per tensor, by observer key (``minmax``, ``percentile@<gamma>``)."""

    ranges: Mapping[str, Mapping[str, tuple[float, float]]]


def calibrate_ranges(model: ImportedModel, samples: Sequence[Mapping[str, np.ndarray]],
                     gammas: Sequence[float] = GAMMAS) -> CalibratedRanges:
    """Min/max and percentile ranges of every tensor in one float pass over ``samples``."""
    def percentile(gamma: float):
        return lambda key: PercentileObserver(gamma=gamma, max_values=OBSERVER_VALUES, n_expected=len(samples))

    factories = {"minmax": lambda key: MinMaxObserver(), **{f"percentile@{g}": percentile(g) for g in gammas}}
    return CalibratedRanges(calibration_ranges(model, samples, factories))


@dataclass(frozen=True)
class Reference:
    """Float results on the evaluation inputs: layer outputs (internal layout), model outputs, detections."""

    layers: tuple[Mapping[str, np.ndarray], ...]
    outputs: tuple[Mapping[str, np.ndarray], ...]
    detections: tuple[Detections, ...]


def float_reference(setup: RealSetup) -> Reference:
    """Run the float model on every evaluation input, keeping every layer output."""
    layers, outputs, detections = [], [], []
    names = {layer.name for layer in setup.model.graph}
    for item in setup.evaluation:
        env: dict[str, np.ndarray] = {}

        def keep(key: str, values: np.ndarray) -> None:
            if key in names:
                env[key] = values

        out = run_float(setup.model, item.inputs, keep)
        layers.append(env)
        outputs.append(out)
        detections.append(setup.decode(out))
    return Reference(tuple(layers), tuple(outputs), tuple(detections))


@dataclass(frozen=True)
class LayerSqnr:
    """SQNR (dB) of one layer output, pooled over the evaluation inputs."""

    name: str
    op: str
    part: str
    w_bits: int
    a_bits: int
    sqnr_db: float


@dataclass(frozen=True)
class Evaluation:
    """One configuration's integer execution against the float reference.

    Attributes
    ----------
    config
        The configuration.
    layers
        Per-layer SQNR in graph order.
    outputs_sqnr_db
        Final-output SQNR (dB) per model output.
    agreement
        Detection agreement pooled over the evaluation inputs.
    reference_count
        Float detections over all evaluation inputs.
    detections
        Integer detections per evaluation input.
    """

    config: QuantConfig
    layers: tuple[LayerSqnr, ...]
    outputs_sqnr_db: Mapping[str, float]
    agreement: Agreement
    reference_count: int
    detections: tuple[Detections, ...]

    @property
    def output_sqnr_db(self) -> float:
        """The lowest final-output SQNR (dB) over the model outputs."""
        return min(self.outputs_sqnr_db.values())

    @property
    def worst_layer(self) -> LayerSqnr:
        """The layer with the lowest SQNR."""
        return min(self.layers, key=lambda l: l.sqnr_db)


def pool_agreements(agreements: Sequence[Agreement]) -> Agreement:
    """Counts summed; mean IoU and mean |score difference| weighted by matches (nan if none)."""
    matched = sum(a.matched for a in agreements)
    if matched:
        iou = sum(a.mean_iou * a.matched for a in agreements if a.matched) / matched
        diff = sum(a.mean_abs_score_diff * a.matched for a in agreements if a.matched) / matched
    else:
        iou = diff = float("nan")
    return Agreement(matched, iou, diff, sum(a.lost for a in agreements), sum(a.gained for a in agreements))


class _Energy:
    """Running ``sum f^2`` and ``sum (f - q)^2`` per key."""

    def __init__(self) -> None:
        self.signal: dict[str, float] = {}
        self.noise: dict[str, float] = {}

    def add(self, key: str, ref: np.ndarray, test: np.ndarray) -> None:
        self.signal[key] = self.signal.get(key, 0.0) + float(np.sum(ref * ref))
        self.noise[key] = self.noise.get(key, 0.0) + float(np.sum((ref - test) ** 2))

    def db(self, key: str) -> float:
        s, n = self.signal[key], self.noise[key]
        if n == 0.0:
            return float("inf")
        return float("-inf") if s == 0.0 else 10.0 * np.log10(s / n)


def evaluate(setup: RealSetup, config: QuantConfig, ranges: CalibratedRanges, reference: Reference) -> Evaluation:
    """Integer execution of ``setup.model`` under ``config`` on the evaluation inputs (module docstring)."""
    model = setup.model.with_bits(config.bits)
    graph = model.graph
    params = params_from_ranges(model, ranges.ranges[config.observer])
    plan = plan_calibrated(model, params, granularity=config.granularity)
    layer_energy, output_energy = _Energy(), _Energy()
    agreements, detections = [], []
    for item, ref_layers, ref_out, ref_det in zip(setup.evaluation, reference.layers, reference.outputs,
                                                   reference.detections):
        def real_of(key: str, values: np.ndarray) -> np.ndarray:
            # Float parts (bits 32) produce reals; integer parts produce codes.
            return values if values.dtype.kind == "f" else plan.params[key].dequantize(values)

        def compare(key: str, values: np.ndarray) -> None:
            if key in ref_layers:
                layer_energy.add(key, ref_layers[key], real_of(key, values))

        inputs = {name: np.asarray(item.inputs[name], dtype=np.float64) for name in model.input_names}
        codes = {name: plan.params[name].quantize(x) if name in plan.params else x for name, x in inputs.items()}
        out = run_integer(model, plan, codes, compare)
        real = {name: real_of(name, v) for name, v in out.items()}
        for name in model.outputs:
            output_energy.add(name, ref_out[name], real[name])
        det = setup.decode(real)
        detections.append(det)
        agreements.append(match_detections(ref_det, det))
    layers = tuple(LayerSqnr(l.name, l.op.value, l.part.value, l.w_bits, l.a_bits, layer_energy.db(l.name))
                   for l in graph if l.name in layer_energy.signal)
    return Evaluation(config, layers, {n: output_energy.db(n) for n in model.outputs}, pool_agreements(agreements),
                      sum(len(d) for d in reference.detections), tuple(detections))
