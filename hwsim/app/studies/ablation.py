"""Quantization ablations on a real detector: FQN Table 2 / Table 4 grids and partial quantization.

* FQN Table 2 style: {per-tensor, per-channel weights} x {min-max, percentile
  (gamma 0.999) activation calibration} x {int8, int4} (weights and activations at
  the same width, every layer). Batch-norm freezing (FQN's F column) does not apply:
  there is no fine-tuning here, batch norm is folded with its trained statistics.
* FQN Table 4 style: percentile gamma in {0.999, 0.9973, 0.9545}, per-channel weights,
  at int8 and int4.
* Partial quantization in the style of seed 003 Table 2: every {FP32, 4} width
  combination over the parts the graph has (backbone / neck / head; FP32 parts run
  on the float path, all-FP32 being the reference itself), every {8, 4}
  combination, and w4a8 everywhere.

Every row is measured by :func:`hwsim.app.studies.quality.evaluate` against the float model
on the held-out inputs, with ranges from one calibration pass.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from sw.graph.ir import FLOAT_BITS, Graph, Part
from sw.graph.bits import BitPolicy
from hwsim.app.studies.quality import (GAMMAS, CalibratedRanges, Evaluation, QuantConfig, Reference, calibrate_ranges,
                                evaluate, float_reference)
from hwsim.app.studies.setups import RealSetup

__all__ = ["AblationRow", "Ablation", "table2_configs", "table4_configs", "partial_configs", "run_ablation",
           "FQN_INT8", "FQN_INT4"]

FQN_INT8 = QuantConfig("FQN int8", BitPolicy(default=(8, 8)))
FQN_INT4 = QuantConfig("FQN int4", BitPolicy(default=(4, 4)))


@dataclass(frozen=True)
class AblationRow:
    """One measured configuration.

    Attributes
    ----------
    table
        ``"table2"``, ``"table4"`` or ``"partial"``.
    label
        Row label; ``bits`` the width policy (``w/a``), ``weights`` the weight
        granularity, ``calibration`` the activation calibration (``minmax`` or
        ``percentile@gamma``).
    output_sqnr_db
        Lowest final-output SQNR (dB) over the model outputs.
    median_layer_sqnr_db, worst_layer, worst_layer_sqnr_db
        Median and minimum per-layer SQNR (dB) and the minimum's layer.
    reference, matched, lost, gained
        Float detections and the integer run's matched / lost / gained ones (all
        evaluation inputs).
    mean_iou, mean_abs_score_diff
        Over matched detections (nan if none).
    weight_kib
        Weight storage at the configuration's widths (KiB).
    """

    table: str
    label: str
    bits: str
    weights: str
    calibration: str
    output_sqnr_db: float
    median_layer_sqnr_db: float
    worst_layer: str
    worst_layer_sqnr_db: float
    reference: int
    matched: int
    lost: int
    gained: int
    mean_iou: float
    mean_abs_score_diff: float
    weight_kib: float


@dataclass(frozen=True)
class Ablation:
    """All rows of one model plus the full evaluations of FQN int8 and int4 (per-layer SQNR, detections).

    ``ranges`` are the calibrated activation ranges every row used.
    """

    model: str
    rows: tuple[AblationRow, ...]
    ranges: CalibratedRanges
    reference: Reference
    fqn_int8: Evaluation
    fqn_int4: Evaluation

    def table(self, name: str) -> tuple[AblationRow, ...]:
        """Rows of one table (``table2``, ``table4``, ``partial``)."""
        return tuple(r for r in self.rows if r.table == name)


def _bits_label(policy: BitPolicy) -> str:
    def pair(p: tuple[int, int]) -> str:
        return str(p[0]) if p[0] == p[1] else f"w{p[0]}a{p[1]}"

    if policy.default is not None:
        return pair(policy.default)
    return ",".join(f"{part}={pair(p)}" for part, p in (policy.parts or {}).items())


def table2_configs() -> list[tuple[str, QuantConfig]]:
    """FQN Table 2 grid (module docstring), int8 rows first."""
    configs = []
    for bits in (8, 4):
        for granularity in ("per_tensor", "per_channel"):
            for calibration in ("minmax", "percentile"):
                label = f"int{bits} {granularity.replace('_', '-')} {'min-max' if calibration == 'minmax' else 'P'}"
                configs.append(("table2", QuantConfig(label, BitPolicy(default=(bits, bits)), granularity, calibration)))
    return configs


def table4_configs() -> list[tuple[str, QuantConfig]]:
    """FQN Table 4: the percentiles of :data:`hwsim.app.studies.quality.GAMMAS` at int8 and int4."""
    return [("table4", QuantConfig(f"int{bits} gamma={g}", BitPolicy(default=(bits, bits)), gamma=g))
            for bits in (8, 4) for g in GAMMAS]


def partial_configs(graph: Graph) -> list[tuple[str, QuantConfig]]:
    """Seed-003-style per-part widths over the graph's parts (module docstring)."""
    parts = [p.value for p in Part if any(l.part is p for l in graph)]
    configs = []
    for unquantized in (FLOAT_BITS, 8):
        for widths in itertools.product((unquantized, 4), repeat=len(parts)):
            if all(b == FLOAT_BITS for b in widths):
                continue  # the float reference itself
            policy = BitPolicy(parts={p: (b, b) for p, b in zip(parts, widths)})
            label = ", ".join(f"{p[0].upper()}{b}" for p, b in zip(parts, widths))
            configs.append(("partial", QuantConfig(label, policy)))
    configs.append(("partial", QuantConfig("w4a8 everywhere", BitPolicy(default=(4, 8)))))
    return configs


def _row(table: str, evaluation: Evaluation, graph: Graph) -> AblationRow:
    cfg, agree = evaluation.config, evaluation.agreement
    worst = evaluation.worst_layer
    sized = graph.with_bits(default=cfg.bits.default, parts=cfg.bits.parts)
    return AblationRow(
        table=table, label=cfg.label, bits=_bits_label(cfg.bits), weights=cfg.granularity,
        calibration=cfg.observer, output_sqnr_db=float(evaluation.output_sqnr_db),
        median_layer_sqnr_db=float(np.median([l.sqnr_db for l in evaluation.layers])),
        worst_layer=worst.name, worst_layer_sqnr_db=float(worst.sqnr_db), reference=evaluation.reference_count,
        matched=agree.matched, lost=agree.lost, gained=agree.gained, mean_iou=float(agree.mean_iou),
        mean_abs_score_diff=float(agree.mean_abs_score_diff), weight_kib=sized.totals().weight_bytes / 1024)


def run_ablation(setup: RealSetup, *, quick: bool = False) -> Ablation:
    """Calibrate once, then measure every configuration (``quick``: Table 2 int4 per-channel rows only)."""
    ranges = calibrate_ranges(setup.model, setup.calibration)
    reference = float_reference(setup)
    fqn8 = evaluate(setup, FQN_INT8, ranges, reference)
    fqn4 = evaluate(setup, FQN_INT4, ranges, reference)
    configs = table2_configs() + table4_configs() + partial_configs(setup.model.graph)
    if quick:
        configs = [(t, c) for t, c in configs if t == "table2" and c.granularity == "per_channel"]
    rows = []
    for table, cfg in configs:
        evaluation = evaluate(setup, cfg, ranges, reference)
        rows.append(_row(table, evaluation, setup.model.graph))
    return Ablation(setup.name, tuple(rows), ranges, reference, fqn8, fqn4)
