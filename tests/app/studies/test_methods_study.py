"""``hwsim report --methods``: every row equals ``hwsim quantize`` + ``hwsim eval --quantized`` run independently."""

from __future__ import annotations

import json

import pytest

from hwsim.app.cli import main
from hwsim.app.studies.methods import MethodRow, parse_methods, parse_steps
from sw.data.synth import make_dataset


def _rows(page: str) -> dict[tuple[str, str, str], list[str]]:
    """Table rows keyed by (method, bits, --keep8 rules or '-')."""
    section = page.split("## Methods x widths", 1)[1]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines() if line.startswith("| ")]
    return {(r[0].split("`")[1] if "`" in r[0] else r[0], r[1], r[2].split(" (")[0]): r for r in cells[1:]}


def test_methods_rows_equal_independent_quantize_and_eval(tmp_path):
    from sw.data.models import blazeface_path

    out, data = tmp_path / "out", tmp_path / "data"
    assert main(["report", "--out", str(out), "--models", "blazeface", "--no-rtl", "--eval-images", "2",
                 "--calibration-images", "2", "--data-dir", str(data), "--methods", "ptq,gptq,ptq+per-tensor+minmax",
                 "--method-bits", "w4a8", "--method-keep8", "none", "--method-keep8", "last:1,sensitive:2"]) == 0
    page = (out / "blazeface_methods.md").read_text()
    rows = _rows(page)
    keep = "last:1,sensitive:2"
    variant = "ptq+per-tensor+minmax"
    assert set(rows) == {("float", "32", "-"), ("ptq", "w4a8", "-"), ("gptq", "w4a8", "-"), ("ptq", "w4a8", keep),
                         ("gptq", "w4a8", keep), (variant, "w4a8", "-"), (variant, "w4a8", keep)}
    assert "--method ptq --per-tensor-weights --ranges minmax --bits w4a8" in page
    assert rows[("ptq", "w4a8", keep)][2] == f"{keep} (3)"
    assert "blazeface_methods.md" in (out / "index.md").read_text()

    make_dataset("faces", 2, 0, tmp_path / "eval", split="eval")
    make_dataset("faces", 2, 0, tmp_path / "cal", split="calib")
    model = str(blazeface_path("short_range"))
    for method, bits, rules, flags in (("gptq", "w4a8", "-", []), ("ptq", "w4a8", keep, []),
                                       (variant, "w4a8", "-", ["--per-tensor-weights", "--ranges", "minmax"])):
        q = tmp_path / f"{method}_{bits}.npz"
        assert main(["quantize", model, "--method", method.split("+")[0], "--bits", bits, "--data", str(tmp_path / "cal"),
                     "--images", "2", "--out", str(q)] + ([] if rules == "-" else ["--keep8", rules]) + flags) == 0
        assert main(["eval", model, "--data", str(tmp_path / "eval"), "--quantized", str(q), "--json",
                     str(tmp_path / "e.json"), "--quiet"]) == 0
        ref = json.loads((tmp_path / "e.json").read_text())
        # method, bits, 8-bit layers, steps, mAP50:95, mAP50, mAP75, matched/float, gained, loss, time
        cells = rows[(method, bits, rules)]
        assert cells[4:7] == [f"{ref['metrics']['integer'][k]:.3f}" for k in ("map", "map50", "map75")]
        agree = ref["agreement"]["integer"]
        assert cells[7] == f"{agree['matched']}/{agree['matched'] + agree['lost']}"
        assert cells[8] == str(agree["gained"])
        assert rows[("float", "32", "-")][4] == f"{ref['metrics']['float']['map']:.3f}"
    # the best file of each width sits beside the page and is named on it
    named = [p.name for p in (out / "blazeface" / "quantized").iterdir()]
    assert len(named) == 2 and all(f"blazeface/quantized/{n}" in page for n in named)
    # the variant row really differs from plain ptq (per-tensor weights lose most detections at 4 bits)
    assert rows[(variant, "w4a8", "-")][4:8] != rows[("ptq", "w4a8", "-")][4:8]


def test_parse_methods_names_the_option():
    assert parse_methods("ptq,fqn", ["4"], 5) == (MethodRow("ptq", "4", None), MethodRow("fqn", "4", 5))
    with pytest.raises(ValueError, match="--methods: expected comma-separated names"):
        parse_methods("ptq,nope", ["4"], None)
    with pytest.raises(ValueError, match="--method-bits"):
        parse_methods("ptq", ["w4"], None)
    with pytest.raises(ValueError, match="--methods: each method once"):
        parse_methods("ptq,ptq", ["4"], None)
    assert parse_methods("ptq", ["4"], None, [None, "first:1"]) == (MethodRow("ptq", "4"),
                                                                   MethodRow("ptq", "4", None, "first:1"))
    assert parse_methods("ptq", ["8", "4"], None, [None, "last:1"]) == (
        MethodRow("ptq", "8"), MethodRow("ptq", "4"), MethodRow("ptq", "4", None, "last:1"))
    with pytest.raises(ValueError, match="--method-keep8: expected rules"):
        parse_methods("ptq", ["4"], None, ["top:1"])
    row = parse_methods("fqn+live-bn+lsq", ["w4a8"], 7)[0]
    assert row == MethodRow("fqn", "w4a8", 7, None, ("live-bn", "lsq")) and row.name == "fqn+live-bn+lsq"
    assert row.stem == "fqn-live-bn-lsq_w4a8_s7"
    assert row.options() == {"ranges": "fqn", "granularity": "per_channel", "live_batch_norm": True,
                             "learn_scales": True, "learn_weight_scales": False, "symmetric_weights": False,
                             "floor_targets": False, "ld_weight": 0.0, "warmup": 0, "step_lr": None}
    assert parse_methods("fqn+labels+ld+floored", ["4"], None)[0].options()["ld_weight"] == 1.0
    row = parse_methods("fqn+sym+lsqw", ["4"], None)[0]
    assert row.stem == "fqn-sym-lsqw_4" and row.options()["symmetric_weights"] and row.options()["learn_weight_scales"]
    assert parse_methods("gptq+sym", ["4"], None)[0].options()["symmetric_weights"]
    assert parse_methods("fqn+warmup", ["4"], None)[0].options()["warmup"] == 20
    assert parse_methods("fqn+slr", ["4"], None)[0].options()["step_lr"] == 0.01
    for bad, message in (("ptq+live-bn", "variant 'live-bn' of ptq unknown"), ("fqn+fast", "variant 'fast' of fqn"),
                         ("fqn+minmax+mse", "one range rule"),
                         ("ptq+sym+mse", "symmetric weights take min/max"), ("gptq+lsqw", "variant 'lsqw' of gptq"),
                         ("brecq+slr", "variant 'slr' of brecq"),
                         ("fqn+ld", "ld needs labels"), ("nope+lsq", "expected comma-separated names")):
        with pytest.raises(ValueError, match=message):
            parse_methods(bad, ["4"], None)
    # --steps: one count for every stepped method, or one per method (the others keep their defaults)
    assert parse_steps("7") == 7 and parse_steps(None) is None
    assert parse_methods("ptq,brecq,fqn+labels", ["4"], parse_steps("brecq=20,fqn=120")) == (
        MethodRow("ptq", "4"), MethodRow("brecq", "4", 20), MethodRow("fqn", "4", 120, None, ("labels",)))
    assert parse_methods("brecq,fqn", ["4"], parse_steps("fqn=5")) == (MethodRow("brecq", "4"), MethodRow("fqn", "4", 5))
    for bad in ("fqn=x", "brecq=2,fqn", "ptq=3", "fqn=1,fqn=2"):
        with pytest.raises(ValueError, match="--steps"):
            parse_steps(bad)
    with pytest.raises(ValueError, match="--steps: expected counts >= 0"):
        parse_methods("fqn", ["4"], parse_steps("fqn=-1"))


def test_method_options_without_methods_are_an_error(tmp_path, capsys):
    assert main(["report", "--out", str(tmp_path), "--models", "blazeface", "--no-rtl", "--steps", "3"]) == 2
    assert "--method-bits, --method-keep8 and --steps apply to --methods only" in capsys.readouterr().err
    assert main(["report", "--out", str(tmp_path), "--models", "resnet18", "--methods", "ptq"]) == 2
    assert "--methods: needs a real detector" in capsys.readouterr().err


def test_label_variant_needs_a_family_with_a_detection_loss(tmp_path, capsys):
    assert main(["report", "--out", str(tmp_path / "out"), "--models", "blazeface", "--no-rtl", "--data-dir",
                 str(tmp_path / "data"), "--methods", "fqn+labels", "--method-bits", "4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("no detection loss for blazeface's family 'blazeface' (families with one: picodet, yolox)")
    assert not (tmp_path / "out" / "blazeface_methods.md").exists()


def test_loss_column_sums_brecq_blocks_and_keeps_fqn_start_and_best():
    """brecq's curve is ``steps`` entries per block, block after block: its column sums each block's first
    and lowest loss (hand values); other methods show the curve's first and lowest entry."""
    from pathlib import Path

    from hwsim.app.report.methods_page import loss_summary
    from hwsim.app.studies.methods import MethodResult

    def result(method, steps, losses):
        return MethodResult(MethodRow(method, "4", steps), None, None, 0.0, tuple(losses), Path("f.npz"), 0)

    # blocks [4, 2, 3] and [0.5, 0.25, 1]: first 4 + 0.5, best 2 + 0.25
    assert loss_summary(result("brecq", 3, [4.0, 2.0, 3.0, 0.5, 0.25, 1.0])) == "4.5 -> 2.25 (2 blocks)"
    assert loss_summary(result("fqn", 5, [4.0, 2.0, 3.0, 0.5, 0.25, 1.0])) == "4 -> 0.25"
    assert loss_summary(result("gptq", None, [])) == "-"
