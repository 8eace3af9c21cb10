"""A small built-in quantize-and-execute demo on a real photo (no downloads).

A seeded 6-layer convolutional feature extractor (conv + frozen batch norm +
ReLU6, depthwise, a residual ADD, nearest up-sampling and a concat, FPN-style)
runs on crops of matplotlib's ``grace_hopper.jpg``. Its weights are random
(He-initialised, seeded): the demo shows the FQN flow, not a trained model.
Activation ranges are calibrated with FQN percentiles over ``n_cal`` crops; the
network is then executed by the integer golden model on a held-out crop and
compared per layer with float execution (SQNR in dB).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sw.golden.concat import concat
from sw.golden.elementwise import AddParams, add
from sw.golden.floatref import conv2d_float
from sw.golden.resize import upsample_nearest
from sw.quant.calibration import make_observer
from sw.quant.folding import BatchNorm
from sw.runtime.layer import quantize_conv
from sw.quant.params import QuantParams
from sw.quant.ranges import params_from_range

__all__ = ["DemoLayerResult", "run_demo", "load_photo_crops"]

CROP = 64


@dataclass(frozen=True)
class DemoLayerResult:
    """Per-layer outcome: name, output shape, MACs and SQNR (dB) of the integer vs float output."""

    name: str
    shape: tuple[int, ...]
    macs: int
    sqnr_db: float


def load_photo_crops(count: int, seed: int) -> np.ndarray:
    """``count`` random 64x64 RGB crops of grace_hopper.jpg, scaled to [-1, 1], NHWC float64."""
    import matplotlib.cbook as cbook
    import matplotlib.image as mpimg

    photo = mpimg.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).astype(np.float64)
    rng = np.random.default_rng(seed)
    ys = rng.integers(0, photo.shape[0] - CROP, count)
    xs = rng.integers(0, photo.shape[1] - CROP, count)
    crops = np.stack([photo[y : y + CROP, x : x + CROP] for y, x in zip(ys, xs)])
    return crops / 127.5 - 1.0


def _layers(rng: np.random.Generator) -> dict[str, dict]:
    def conv(cout, k, cin, groups=1, stride=1):
        w = rng.standard_normal((cout, k, k, cin // groups)) * np.sqrt(2.0 / (k * k * cin // groups))
        bn = BatchNorm(rng.uniform(0.5, 1.5, cout), rng.normal(0, 0.1, cout), rng.normal(0, 0.1, cout), rng.uniform(0.5, 2.0, cout))
        return dict(w=w, b=np.zeros(cout), bn=bn, groups=groups, stride=stride)

    return {
        "stem": conv(16, 3, 3, stride=2),
        "dw": conv(16, 3, 16, groups=16),
        "pw": conv(16, 1, 16),
        "down": conv(32, 3, 16, stride=2),
        "lateral": conv(16, 1, 32),
        "head": conv(8, 3, 32),
    }


def _float_forward(spec: dict[str, dict], x: np.ndarray) -> dict[str, np.ndarray]:
    from sw.quant.folding import fold_batch_norm

    def conv(name, inp):
        s = spec[name]
        w, b = fold_batch_norm(s["w"], s["b"], s["bn"])
        y = conv2d_float(inp, w, b, stride=s["stride"], padding="SAME", groups=s["groups"])
        return np.clip(y, 0.0, 6.0)

    t = {"input": x}
    t["stem"] = conv("stem", x)
    t["dw"] = conv("dw", t["stem"])
    t["pw"] = conv("pw", t["dw"])
    t["residual"] = t["pw"] + t["stem"]
    t["down"] = conv("down", t["residual"])
    t["lateral"] = conv("lateral", t["down"])
    t["upsample"] = upsample_nearest(t["lateral"], 2)
    t["concat"] = np.concatenate([t["upsample"], t["residual"]], axis=-1)
    t["head"] = conv("head", t["concat"])
    return t


def _sqnr_db(ref: np.ndarray, test: np.ndarray) -> float:
    noise = np.sum((ref - test) ** 2)
    return float("inf") if noise == 0 else float(10 * np.log10(np.sum(ref**2) / noise))


def run_demo(bits: int = 4, n_cal: int = 20, gamma: float = 0.999, seed: int = 0) -> list[DemoLayerResult]:
    """Calibrate, quantize to ``bits`` (weights and activations), execute in integers, compare with float.

    Parameters
    ----------
    bits
        Weight and activation bit width (2..8).
    n_cal
        Number of calibration crops (FQN's n_cal).
    gamma
        Percentile for activation ranges (FQN's gamma).
    seed
        Seed of the weights and of the crop positions.
    """
    rng = np.random.default_rng(seed)
    spec = _layers(rng)
    cal = load_photo_crops(n_cal + 1, seed)
    observers: dict[str, object] = {}
    for crop in cal[:n_cal]:
        for name, value in _float_forward(spec, crop[None]).items():
            observers.setdefault(name, make_observer("percentile", gamma=gamma, n_cal=n_cal)).observe(value)
    qp: dict[str, QuantParams] = {}
    for name, obs in observers.items():
        lb, ub = obs.range()
        qp[name] = params_from_range(lb, ub, bits, signed=False)
    # concat, upsample and residual input share parameters with what they copy.
    qp["upsample"] = qp["lateral"]

    x = cal[n_cal][None]
    ref = _float_forward(spec, x)
    q = {"input": qp["input"].quantize(x)}

    def conv(name, src):
        s = spec[name]
        layer = quantize_conv(
            s["w"], s["b"], qp[src], qp[name], w_bits=bits, bn=s["bn"], activation="relu6",
            stride=(s["stride"],) * 2, padding="SAME", groups=s["groups"],
        )
        q[name] = layer(q[src])

    conv("stem", "input")
    conv("dw", "stem")
    conv("pw", "dw")
    q["residual"] = add(q["pw"], q["stem"], AddParams.from_params(qp["pw"], qp["stem"], qp["residual"]))
    conv("down", "residual")
    conv("lateral", "down")
    q["upsample"] = upsample_nearest(q["lateral"], 2)
    q["concat"] = concat([q["upsample"], q["residual"]], [qp["upsample"], qp["residual"]], qp["concat"])
    conv("head", "concat")

    results = []
    for name in ("stem", "dw", "pw", "residual", "down", "lateral", "upsample", "concat", "head"):
        macs = 0
        if name in spec:
            w = spec[name]["w"]
            macs = int(np.prod(q[name].shape[1:]) * np.prod(w.shape[1:]))
        results.append(DemoLayerResult(name, tuple(q[name].shape), macs, _sqnr_db(ref[name], qp[name].dequantize(q[name]))))
    return results
