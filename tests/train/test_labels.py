"""The detection loss from labels (``sw.train.labels``, ``fqn --label-loss``): hand-derived targets and losses."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sw.train.labels import LABEL_FAMILIES, POSITIVE_IOU, label_targets


def _iou(a, b) -> float:
    """IoU of two x1 y1 x2 y2 boxes, by hand."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _picodet_outputs(hw, classes=3, bins=8, peak=2):
    """Score and distribution outputs of a 4-level PicoDet at input ``hw``: every side's distribution peaked
    (logit 40) at bin ``peak`` (a box of half-size ``peak`` strides at every cell), scores 0."""
    scores, dists = [], []
    for s in (8, 16, 32, 64):
        n = -(-hw[0] // s) * -(-hw[1] // s)
        scores.append(np.zeros((1, n, classes)))
        d = np.zeros((1, n, 4, bins))
        d[..., peak] = 40.0
        dists.append(d.reshape(1, n, 4 * bins))
    return scores, dists


def test_picodet_targets_are_the_gfl_dfl_targets_at_the_one_positive_cell():
    hw = (64, 48)
    scores, dists = _picodet_outputs(hw)
    cell = 2 * 6 + 3  # stride 8: row 2, column 3 (6 columns), centre (28, 20)
    scores[0][0, cell, 1] = 0.9  # only there does the float model score class 1
    gt = np.array([[28 - 17.2, 20 - 16.0, 28 + 15.0, 20 + 16.4]])
    dense, positives, covered = LABEL_FAMILIES["picodet"](scores + dists, hw, gt, np.array([1]))
    assert positives == 1 and covered == {0}
    score, dist = dense[0], dense[4]
    float_box = [28 - 16.0, 20 - 16.0, 28 + 16.0, 20 + 16.0]  # the peaked distribution: 2 strides per side
    expect_iou = _iou(float_box, gt[0])
    assert expect_iou >= POSITIVE_IOU
    assert np.flatnonzero(score.l2).tolist() == [cell * 3 + 1] and score.target[0, cell, 1] == pytest.approx(expect_iou)
    # sides in strides 2.15, 2.0, 1.875, 2.05 -> bins (2, 3) weighted by nearness; the expectation is the side
    soft = dist.target[0, cell].reshape(4, 8)
    sides = np.array([17.2, 16.0, 15.0, 16.4]) / 8
    assert soft.sum(axis=1) == pytest.approx(np.ones(4))
    assert (soft * np.arange(8)).sum(axis=1) == pytest.approx(sides)
    assert soft[0, 2] == pytest.approx(0.85) and soft[0, 3] == pytest.approx(0.15)
    assert soft[2, 1] == pytest.approx(0.125) and soft[2, 2] == pytest.approx(0.875)
    assert np.flatnonzero(dist.dfl.reshape(-1, 32).any(axis=1)).tolist() == [cell] and dist.dfl.max() == 0.25
    assert all(not d.l2.any() and not d.dfl.any() for i, d in enumerate(dense) if i not in (0, 4))


def test_picodet_distances_beyond_the_last_bin_are_clipped_and_far_cells_are_negative():
    hw = (64, 48)
    scores, dists = _picodet_outputs(hw, peak=7)  # float boxes of half-size 7 strides
    scores[0][0, :, 0] = 0.5
    gt = np.array([[-40.0, -40.0, 60.0, 60.0]])  # the cell centred at (4, 4) sees the right side 7 strides away
    dense, positives, covered = LABEL_FAMILIES["picodet"](scores + dists, hw, gt, np.array([0]))
    assert positives >= 1 and covered == {0}
    soft = dense[4].target[0].reshape(-1, 4, 8)
    expect = (soft * np.arange(8)).sum(axis=-1)
    assert expect.max() == pytest.approx(7 - 0.01)  # GFL's clip just below the last bin
    # no ground truth: no positive, every weight zero
    dense, positives, covered = LABEL_FAMILIES["picodet"](scores + dists, hw, np.zeros((0, 4)), np.zeros(0, int))
    assert positives == 0 and not covered and not any(d.l2.any() or d.dfl.any() for d in dense)


def test_yolox_targets_are_the_raw_box_values_objectness_and_iou_score():
    hw = (64, 64)
    n = 8 * 8 + 4 * 4 + 2 * 2
    raw = np.zeros((1, n, 5 + 2))
    raw[0, :, 2:4] = math.log(2.0)  # every cell: a box of 2 x 2 strides around its top-left corner + 0
    raw[0, :, 4] = 0.8
    cell = 3 * 8 + 5  # stride 8, row 3, column 5: box centre (40, 24), 16 x 16
    raw[0, cell, 6] = 0.5  # class 1
    gt = np.array([[31.0, 17.0, 49.0, 33.0]])  # centre (40, 25), 18 x 16
    dense, positives, covered = LABEL_FAMILIES["yolox"]([raw], hw, gt, np.array([1]))
    (t,) = dense
    assert positives == 1 and covered == {0}
    assert t.target[0, cell, :4] == pytest.approx([40 / 8 - 5, 25 / 8 - 3, math.log(18 / 8), math.log(16 / 8)])
    assert np.flatnonzero(t.l1.reshape(-1)).tolist() == [cell * 7 + j for j in range(4)]
    assert t.target[0, cell, 4] == 1.0 and t.l2[0, cell, 4] == 1.0
    assert t.target[0, cell, 6] == pytest.approx(_iou([32, 16, 48, 32], gt[0])) and t.l2[0, cell, 6] == 1.0
    assert t.l2.sum() == 2.0


def test_unknown_family_is_a_one_line_error():
    with pytest.raises(ValueError, match="--label-loss: no detection loss for family 'blazeface'"):
        label_targets(None, "blazeface", [], [], [], (128, 128))


def test_label_loss_matches_hand_values():
    jnp = pytest.importorskip("jax.numpy")
    from sw.train.qat import label_loss

    y = jnp.asarray([[0.0, math.log(3.0), 1.0, 0.5]])  # one DFL group of 2 bins, then two plain values
    t = np.asarray([[0.25, 0.75, 0.2, 0.9]], np.float32)
    dfl = np.asarray([[1.0, 1.0, 0.0, 0.0]], np.float32)
    l1 = np.asarray([[0.0, 0.0, 2.0, 0.0]], np.float32)
    l2 = np.asarray([[0.0, 0.0, 0.0, 3.0]], np.float32)
    got = float(label_loss({"o": y}, {"o": (t, l1, l2, dfl)}, {"o": 2}, 2.0))
    ce = -(0.25 * math.log(1 / 4) + 0.75 * math.log(3 / 4))
    # the DFL grouping covers the whole last axis: the plain values form a second group, weighted 0
    assert got == pytest.approx((ce + 2.0 * 0.8 + 3.0 * 0.4 ** 2) / 2.0, rel=1e-6)
    assert float(label_loss({"o": y}, {"o": (t, l1, l2, 0 * dfl)}, {"o": 0}, 0.0)) == pytest.approx(1.6 + 0.48)
    # Localization distillation: the same DFL-weighted cross-entropy against the teacher's bin softmax
    # (teacher logits 0, log 1/3: probabilities 3/4, 1/4), times the weight.
    teacher = {"o": jnp.asarray([[0.0, math.log(1.0 / 3.0), 5.0, 5.0]])}
    ld = float(label_loss({"o": y}, {"o": (t, l1, l2, dfl)}, {"o": 2}, 2.0, teacher, 0.5))
    ce_teacher = -(0.75 * math.log(1 / 4) + 0.25 * math.log(3 / 4))
    assert ld == pytest.approx((ce + 0.5 * ce_teacher + 2.0 * 0.8 + 3.0 * 0.4 ** 2) / 2.0, rel=1e-6)


@pytest.mark.slow
def test_real_picodet_targets_move_to_the_ir_layout_exactly(tmp_path):
    """The IR-layout targets, run through the model's tail, are the builder's declared-layout targets."""
    from sw.data.models import picodet_layout_path
    from sw.data.synth import make_dataset
    from sw.data.synth.coco import load_coco
    from sw.detect.evaluate import category_map, load_detector
    from sw.runtime.floatexec import run_float, run_tail

    det = load_detector(picodet_layout_path())
    data = load_coco(make_dataset("layout", 1, 0, tmp_path / "page", split="calib").annotations.parent)
    record = data.images[0]
    x, m = det.family.preprocess(data.load_image(record), det.input_hw)
    boxes, cats = data.boxes(int(record["id"]))
    gt = boxes * [m.scale_x, m.scale_y, m.scale_x, m.scale_y] + [m.offset_x, m.offset_y] * 2
    index = {int(c): i for i, c in enumerate(category_map(det.class_names, data))}
    cls = np.asarray([index[int(c)] for c in cats])
    declared = run_float(det.model, {det.input_name: x})
    dense, positives, _ = LABEL_FAMILIES["picodet"]([declared[k] for k in det.model.outputs], det.input_hw, gt, cls)
    lt = label_targets(det.model, "picodet", [{det.input_name: x}], [gt], [cls], det.input_hw)
    assert positives > len(gt) and lt.positives.tolist() == [positives] and lt.boxes == len(gt)
    for j, field in enumerate(("target", "l1", "l2", "dfl")):
        back = run_tail(det.model, {k: v[j] for k, v in lt.outputs.items()})
        for name, d in zip(det.model.outputs, dense):
            np.testing.assert_array_equal(back[name], getattr(d, field).astype(np.float32))
    assert sorted(set(lt.bins.values())) == [0, 8]


def test_label_loss_flag_needs_fqn_and_labelled_data(tmp_path, capsys):
    import onnx

    import hwsim.app.cli
    from tests.importers.onnx_models import MODELS

    model, _ = MODELS["conv_bn_relu"]()
    onnx.save(model, tmp_path / "m.onnx")
    np.save(tmp_path / "cal.npy", np.random.default_rng(0).normal(size=(2, *model_input_shape(tmp_path / "m.onnx"))))
    base = ["quantize", str(tmp_path / "m.onnx"), "--calibration", str(tmp_path / "cal.npy"), "--out",
            str(tmp_path / "q.npz")]
    for extra, message in ((["--method", "fqn", "--label-loss", "1"], "--label-loss applies to --method fqn with --data"),
                           (["--method", "ptq", "--label-loss", "1"], "--label-loss applies to --method fqn with --data")):
        capsys.readouterr()
        assert hwsim.app.cli.main(base + extra) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "q.npz").exists()


def model_input_shape(path) -> tuple[int, ...]:
    from sw.graph import load_imported_model

    m = load_imported_model(path)
    return tuple(m.native_shapes[m.input_names[0]])[1:]


@pytest.mark.slow
def test_yolox_label_loss_equals_the_golden_models_loss_on_the_exported_file(tmp_path):
    """``--steps 0``: the file is the starting point, so the reported loss with ``--label-loss W`` minus the
    loss without it is W times the label loss of the exported integer model's outputs (numpy oracle)."""
    import hwsim.app.cli
    from sw.data.models import yolox_tiny_path
    from sw.data.synth import make_dataset
    from sw.data.synth.coco import load_coco
    from sw.detect.evaluate import load_detector
    from sw.runtime.floatexec import run_float, run_tail
    from sw.runtime.integer import run_integer
    from sw.runtime.qmodel import load_quantized

    model = yolox_tiny_path()
    cal = make_dataset("chars", 2, 0, tmp_path / "cal", split="calib").annotations.parent
    files = {}
    for weight in (None, 2.0):
        out = tmp_path / f"q{weight}.npz"
        argv = ["quantize", str(model), "--method", "fqn", "--bits", "4", "--data", str(cal), "--images", "2",
                "--steps", "0", "--out", str(out)] + ([] if weight is None else ["--label-loss", str(weight)])
        assert hwsim.app.cli.main(argv) == 0
        files[weight] = out
    det = load_detector(model)
    data = load_coco(cal)
    qm = load_quantized(files[2.0], det.model, model)
    prov = qm.provenance
    assert prov["label_loss"]["weight"] == 2.0 and prov["label_loss"]["boxes_with_positives"] >= 1
    base = load_quantized(files[None], det.model, model).provenance["losses"][0]
    model_q, plan = qm.apply_bits(det.model), qm.plan
    total, positives = 0.0, 0
    for record in data.images:
        x, m = det.family.preprocess(data.load_image(record), det.input_hw)
        boxes, _ = data.boxes(int(record["id"]))
        gt = boxes * [m.scale_x, m.scale_y, m.scale_x, m.scale_y] + [m.offset_x, m.offset_y] * 2
        (t,), n, _ = LABEL_FAMILIES["yolox"](list(run_float(det.model, {det.input_name: x}).values()), det.input_hw,
                                             gt, np.zeros(len(gt), int))
        # the golden model's IR outputs, dequantized, moved to the declared layout by the float tail (training sees
        # the IR outputs: the integer tail's concatenation requantizes them to one grid)
        env = {}
        run_integer(model_q, plan, {det.input_name: plan.params[det.input_name].quantize(x.astype(np.float64))},
                    lambda k, v: env.__setitem__(k, v))
        (y,) = run_tail(det.model, {k: plan.params[k].dequantize(env[k]) for k in det.model.graph.outputs}).values()
        total += float(np.sum(t.l1 * np.abs(y - t.target)) + np.sum(t.l2 * (y - t.target) ** 2))
        positives += n
    assert positives == prov["label_loss"]["positive_cells"] > 0
    assert prov["losses"][0] - base == pytest.approx(2.0 * total / positives, rel=1e-4)
