"""AdaRound: learned rounding lowers the reconstruction error of real BlazeFace layers below round-to-nearest."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("jax")

from sw.data.images import blazeface_input, grace_hopper  # noqa: E402
from sw.data.models import blazeface_path  # noqa: E402
from sw.graph import load_imported_model  # noqa: E402
from sw.quant.ranges import weight_params  # noqa: E402
from sw.runtime.floatexec import run_float  # noqa: E402
from sw.train.adaround import adaround_codes  # noqa: E402
from sw.train.gptq import layer_columns  # noqa: E402
from tests.train.test_gptq import _relative_error  # noqa: E402


@pytest.mark.parametrize("name, ratio", [("depthwise_conv2d_5", 0.7), ("conv2d_10", 0.9)])
def test_adaround_beats_round_to_nearest(name, ratio):
    model = load_imported_model(blazeface_path("short_range"))
    env: dict[str, np.ndarray] = {}
    x, _ = blazeface_input(grace_hopper())
    run_float(model, {model.input_names[0]: x}, lambda k, v: env.__setitem__(k, v))
    layer = model.graph.layer(name)
    w = np.asarray(model.tensors[f"{name}.weight"])
    wp = weight_params(w, 4)
    cols = layer_columns(layer, env[layer.inputs[0]])
    rows = cols[:, np.random.default_rng(0).choice(cols.shape[1], min(4096, cols.shape[1]), replace=False)]
    codes = adaround_codes(w.reshape(w.shape[0], -1), wp, rows).reshape(w.shape)
    assert codes.min() >= wp.qmin and codes.max() <= wp.qmax
    rtn, ada = _relative_error(w, wp, wp.quantize(w), cols), _relative_error(w, wp, codes, cols)
    assert ada < ratio * rtn, (rtn, ada)
