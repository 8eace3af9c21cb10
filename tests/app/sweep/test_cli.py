"""``hwsim sweep`` through the CLI error path: summary line, bad input as one line and exit 2."""

from __future__ import annotations

import socket

import pytest


def test_run_and_rerun(run_cli, sweep_file, tmp_path, capsys):
    out = tmp_path / "o"
    assert run_cli(["sweep", str(sweep_file), "--out", str(out), "--jobs", "1"]) == 0
    captured = capsys.readouterr()
    assert "10 points (1 models x 2 bits x 5 designs): 10 computed" in captured.out
    assert captured.err.count("skipped invalid design [array.cols=24") == 2
    assert run_cli(["sweep", str(sweep_file), "--out", str(out), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "0 computed" in captured.out and "10 resumed" in captured.out and captured.err == ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("extra, sweep_text, message", [
    ([], '[sweep]\nbase = "edge16_int4"\nmodels = ["yolov3_tiny_416"]\n[grid]\n"array.rowz" = [8]\n',
     "unknown field 'array.rowz' (valid: clock_mhz, requant_lanes, array.rows, array.cols,"),
    ([], '[sweep]\nbase = "edge16_int4"\nmodels = ["yolov3_tiny_416"]\n[grid]\n"array.rows" = []\n',
     "[grid] 'array.rows' must be a non-empty list of values, got []"),
    (["--strict"], '[sweep]\nbase = "edge16_int4"\nmodels = ["yolov3_tiny_416"]\n[grid]\n"array.cols" = [16, 24]\n',
     "invalid design [array.cols=24]: config 'edge16_int4+sweep': requant_lanes: expected a divisor of "
     "array.cols=24, got 16 (1 invalid; --strict)"),
    (["--jobs", "0"], '[sweep]\n', "--jobs: expected an integer in [1, 256], got 0"),
    (["--scheduler", "tcp://127.0.0.1:{port}", "--scheduler-timeout", "1"],
     '[sweep]\nbase = "edge16_int4"\nmodels = ["yolov3_tiny_416"]\n', "cannot reach the Dask scheduler at tcp://127.0.0.1:"),
])
def test_bad_input_is_one_line_and_exit_2(run_cli, tmp_path, capsys, extra, sweep_text, message):
    sweep = tmp_path / "s.toml"
    sweep.write_text(sweep_text)
    extra = [a.format(port=_free_port()) for a in extra]
    assert run_cli(["sweep", str(sweep), "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hwsim sweep: error: ") and message in err and err.count("\n") == 1


def test_missing_file(run_cli, tmp_path, capsys):
    assert run_cli(["sweep", str(tmp_path / "none.toml"), "--out", str(tmp_path)]) == 2
    assert "none.toml: cannot read: No such file or directory" in capsys.readouterr().err
