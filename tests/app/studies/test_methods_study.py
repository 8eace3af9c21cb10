"""``hwsim report --methods``: every row equals ``hwsim quantize`` + ``hwsim eval --quantized`` run independently."""

from __future__ import annotations

import json

import pytest

from hwsim.app.cli import main
from hwsim.app.studies.methods import MethodRow, parse_methods
from sw.data.synth import make_dataset


def _rows(page: str) -> dict[tuple[str, str], list[str]]:
    section = page.split("## Methods x widths", 1)[1]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines() if line.startswith("| ")]
    return {(r[0].split("`")[1] if "`" in r[0] else r[0], r[1]): r for r in cells[1:]}


def test_methods_rows_equal_independent_quantize_and_eval(tmp_path):
    from sw.data.models import blazeface_path

    out, data = tmp_path / "out", tmp_path / "data"
    assert main(["report", "--out", str(out), "--models", "blazeface", "--no-rtl", "--eval-images", "2",
                 "--calibration-images", "2", "--data-dir", str(data), "--methods", "ptq,gptq",
                 "--method-bits", "8", "--method-bits", "w4a8"]) == 0
    page = (out / "blazeface_methods.md").read_text()
    rows = _rows(page)
    assert set(rows) == {("float", "32"), ("ptq", "8"), ("gptq", "8"), ("ptq", "w4a8"), ("gptq", "w4a8")}
    assert "blazeface_methods.md" in (out / "index.md").read_text()

    make_dataset("faces", 2, 0, tmp_path / "eval", split="eval")
    make_dataset("faces", 2, 0, tmp_path / "cal", split="calib")
    model = str(blazeface_path("short_range"))
    for method, bits in (("gptq", "w4a8"), ("ptq", "8")):
        q = tmp_path / f"{method}_{bits}.npz"
        assert main(["quantize", model, "--method", method, "--bits", bits, "--data", str(tmp_path / "cal"),
                     "--images", "2", "--out", str(q)]) == 0
        assert main(["eval", model, "--data", str(tmp_path / "eval"), "--quantized", str(q), "--json",
                     str(tmp_path / "e.json"), "--quiet"]) == 0
        ref = json.loads((tmp_path / "e.json").read_text())
        cells = rows[(method, bits)]  # method, bits, steps, mAP50:95, mAP50, mAP75, matched/float, gained, loss, time
        assert cells[3:6] == [f"{ref['metrics']['integer'][k]:.3f}" for k in ("map", "map50", "map75")]
        agree = ref["agreement"]["integer"]
        assert cells[6] == f"{agree['matched']}/{agree['matched'] + agree['lost']}"
        assert cells[7] == str(agree["gained"])
        assert rows[("float", "32")][3] == f"{ref['metrics']['float']['map']:.3f}"
    # the best file of each width sits beside the page and is named on it
    named = [p.name for p in (out / "blazeface" / "quantized").iterdir()]
    assert len(named) == 2 and all(f"blazeface/quantized/{n}" in page for n in named)


def test_parse_methods_names_the_option():
    assert parse_methods("ptq,fqn", ["4"], 5) == (MethodRow("ptq", "4", None), MethodRow("fqn", "4", 5))
    with pytest.raises(ValueError, match="--methods: expected comma-separated names"):
        parse_methods("ptq,nope", ["4"], None)
    with pytest.raises(ValueError, match="--method-bits"):
        parse_methods("ptq", ["w4"], None)
    with pytest.raises(ValueError, match="--methods: each method once"):
        parse_methods("ptq,ptq", ["4"], None)


def test_method_options_without_methods_are_an_error(tmp_path, capsys):
    assert main(["report", "--out", str(tmp_path), "--models", "blazeface", "--no-rtl", "--steps", "3"]) == 2
    assert "--method-bits and --steps apply to --methods only" in capsys.readouterr().err
    assert main(["report", "--out", str(tmp_path), "--models", "resnet18", "--methods", "ptq"]) == 2
    assert "--methods: needs a real detector" in capsys.readouterr().err
