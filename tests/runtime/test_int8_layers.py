"""``hwsim run`` on int8 TFLite models with PRELU, RESIZE_BILINEAR, TRANSPOSE_CONV, a batched
FULLY_CONNECTED and Keras-style up-sampling (RESHAPE -> TILE / BROADCAST_TO -> RESHAPE -> CONV_2D):
bit-exact with the BUILTIN_REF interpreter, and the IR the importer builds."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.app import cli
from oracles.tflite_layers import (build_keras_upsampling_conv, build_prelu, build_resize_bilinear,
                                   build_transpose_conv, build_transpose_then_conv, build_float_io_conv)
from oracles.tflite_ref import build_conv2d, build_fully_connected, run_model
from sw.graph.importers.tflite_import import load_tflite
from sw.graph.ir import Op

RNG = np.random.default_rng(42)


def _models() -> dict[str, tuple[bytes, tuple[int, ...], list[Op]]]:
    w = RNG.integers(-127, 128, (6, 1, 1, 4))
    return {
        "prelu": (build_prelu((1, 6, 7, 5), 0.04, -3, RNG.integers(-128, 128, 5), 0.01, 4, 0.03, 6),
                  (1, 6, 7, 5), [Op.PRELU]),
        "resize_half_pixel": (build_resize_bilinear((1, 5, 6, 3), 0.05, 2, (10, 12), half_pixel_centers=True),
                              (1, 5, 6, 3), [Op.RESIZE_BILINEAR]),
        "resize_align_corners": (build_resize_bilinear((1, 5, 6, 3), 0.05, 2, (9, 11), align_corners=True),
                                 (1, 5, 6, 3), [Op.RESIZE_BILINEAR]),
        "transpose_conv": (build_transpose_conv((1, 4, 5, 6), 0.05, 1, RNG.integers(-127, 128, (3, 3, 3, 6)),
                                                RNG.uniform(0.002, 0.01, 3), RNG.integers(-500, 500, 3), 0.08, -4,
                                                out_hw=(8, 10)), (1, 4, 5, 6), [Op.CONV_TRANSPOSE]),
        "fc_batch4": (build_fully_connected((4, 64), 0.05, 3, RNG.integers(-127, 128, (10, 64)),
                                            RNG.uniform(0.002, 0.01, 10), RNG.integers(-800, 800, 10), 0.2, -2),
                      (4, 64), [Op.FC]),
        "upsampling_tile": (build_keras_upsampling_conv((1, 3, 4, 4), 0.05, 1, 2, w, 0.01, RNG.integers(-99, 99, 6),
                                                        0.06, 3), (1, 3, 4, 4), [Op.UPSAMPLE, Op.CONV]),
        "upsampling_broadcast": (build_keras_upsampling_conv((1, 3, 4, 4), 0.05, 1, 3, w, 0.01,
                                                             RNG.integers(-99, 99, 6), 0.06, 3, broadcast=True),
                                 (1, 3, 4, 4), [Op.UPSAMPLE, Op.CONV]),
    }


MODELS = _models()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_int8_layer_models_run_bit_exact(name, tmp_path):
    data, shape, ops = MODELS[name]
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(data)
    assert [l.op for l in load_tflite(path).graph] == ops
    x = np.random.default_rng(len(name)).integers(-128, 128, shape).astype(np.int8)
    np.save(tmp_path / "x.npy", x)
    assert cli.main(["run", str(path), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")]) == 0
    (ref,) = run_model(data, [x])
    got = np.load(tmp_path / "y.npy")
    assert got.dtype == ref.dtype and got.shape == ref.shape
    assert np.count_nonzero(got != ref) == 0
    assert np.unique(ref).size > 10


def test_batched_fc_ir_and_macs(tmp_path):
    path = tmp_path / "fc.tflite"
    path.write_bytes(MODELS["fc_batch4"][0])
    layer = load_tflite(path).graph.layers[0]
    assert (layer.in_shapes, layer.out_shape) == (((1, 4, 64),), (1, 4, 10))
    assert (layer.weight_count, layer.macs) == (640, 4 * 640)


def test_layout_chain_that_is_not_an_upsampling_is_refused(tmp_path):
    data = build_transpose_then_conv((1, 3, 4, 4), 0.05, 1, (0, 2, 1, 3), RNG.integers(-127, 128, (6, 1, 1, 4)),
                                     0.01, np.zeros(6, np.int64), 0.06, 3)
    path = tmp_path / "bad.tflite"
    path.write_bytes(data)
    with pytest.raises(ValueError, match="neither an identity nor an integer nearest up-sampling"):
        load_tflite(path)


def test_float_io_int8_model_quantizes_and_dequantizes_like_tflite(tmp_path):
    rng = np.random.default_rng(5)
    data = build_float_io_conv((1, 6, 7, 3), 0.02, -5, rng.integers(-127, 128, (4, 3, 3, 3)),
                               rng.uniform(0.002, 0.01, 4), rng.integers(-500, 500, 4), 0.05, 2)
    path = tmp_path / "float_io.tflite"
    path.write_bytes(data)
    model = load_tflite(path)
    assert model.prequantized and [l.op for l in model.graph] == [Op.CONV]
    # reals on and between code steps of the input scale (ties of round(x / s) included)
    x = (rng.integers(-300, 300, (1, 6, 7, 3)) * 0.01).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    argv = ["run", str(path), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy"), "--dequantize"]
    assert cli.main(argv) == 0
    (ref,) = run_model(data, [x])
    got = np.load(tmp_path / "y.npy")
    assert ref.dtype == np.float32 and got.shape == ref.shape
    assert np.array_equal(got.astype(np.float32), ref) and np.unique(ref).size > 20


def test_batch_of_images_runs_every_layer_per_image(tmp_path):
    rng = np.random.default_rng(8)
    data = build_conv2d((3, 6, 7, 4), 0.05, 1, rng.integers(-127, 128, (5, 3, 3, 4)), rng.uniform(0.002, 0.01, 5),
                        rng.integers(-500, 500, 5), 0.08, -3, fused="RELU")
    path = tmp_path / "batch3.tflite"
    path.write_bytes(data)
    layer = load_tflite(path).graph.layers[0]
    assert (layer.in_shapes, layer.out_shape, layer.repeat) == (((6, 7, 4),), (6, 7, 5), 3)
    assert layer.macs == 3 * 6 * 7 * 5 * 36
    x = rng.integers(-128, 128, (3, 6, 7, 4)).astype(np.int8)
    np.save(tmp_path / "x.npy", x)
    assert cli.main(["run", str(path), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")]) == 0
    (ref,) = run_model(data, [x])
    got = np.load(tmp_path / "y.npy")
    assert got.shape == ref.shape == (3, 6, 7, 5) and np.count_nonzero(got != ref) == 0
    assert cli.main(["simulate", "--model", str(path), "--no-layers"]) == 0
