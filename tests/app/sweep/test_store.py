"""results.jsonl: durable appends, torn last line truncated, corruption and concurrent use refused."""

from __future__ import annotations

import pytest

from hwsim.app.sweep.store import ResultLog, write_csv


def test_append_reopen_and_torn_last_line(tmp_path):
    path = tmp_path / "results.jsonl"
    with ResultLog(path) as log:
        log.append({"key": "a", "x": 1})
        log.append({"key": "b", "x": 2.5})
    with path.open("ab") as f:
        f.write(b'{"key": "c", "x"')  # crash mid-write
    with ResultLog(path) as log:
        assert log.dropped_torn_line and set(log.records) == {"a", "b"}
        log.append({"key": "c", "x": 3})
    assert path.read_text().splitlines()[-1] == '{"key":"c","x":3}'
    with ResultLog(path) as log:
        assert not log.dropped_torn_line and log.records["b"] == {"key": "b", "x": 2.5}


def test_corrupt_complete_line_is_an_error(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text('{"key": "a"}\nnot json\n{"key": "b"}\n')
    with pytest.raises(ValueError, match=r"results.jsonl: line 2 is not a result record"):
        ResultLog(path)


def test_second_sweep_on_the_same_log_is_refused(tmp_path):
    path = tmp_path / "results.jsonl"
    with ResultLog(path):
        with pytest.raises(ValueError, match="is in use by another running sweep"):
            ResultLog(path)


def test_csv_blank_for_none(tmp_path):
    write_csv(tmp_path / "t.csv", [{"a": 1, "b": None}, {"a": 0.1, "b": [4, 8]}], ["a", "b"])
    assert (tmp_path / "t.csv").read_text() == 'a,b\n1,\n0.1,"[4, 8]"\n'
