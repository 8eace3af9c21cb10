"""SCALE-Sim topology CSV importer: the peer samples, error messages, fuzzing."""

from __future__ import annotations

import random
import shutil
from math import ceil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sw.graph import load_model
from sw.graph.importers import load_scalesim_csv

PEERS = Path(__file__).resolve().parents[1] / "fixtures" / "scalesim"
HEADER = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"

# (H, W, F, C, N, S) per row, copied from the two sample files
RESNET18 = [(224, 224, 7, 3, 64, 2)] + [(56, 56, 3, 64, 64, 1)] * 4 + [
    (56, 56, 3, 64, 128, 2), (28, 28, 3, 128, 128, 1), (56, 56, 1, 64, 128, 2),
    (28, 28, 3, 128, 128, 1), (28, 28, 3, 128, 128, 1),
    (28, 28, 3, 128, 256, 2), (14, 14, 3, 256, 256, 1), (28, 28, 1, 128, 256, 2),
    (14, 14, 3, 256, 256, 1), (14, 14, 3, 256, 256, 1),
    (14, 14, 3, 256, 512, 2), (7, 7, 3, 512, 512, 1), (14, 14, 1, 256, 512, 2),
    (7, 7, 3, 512, 512, 1), (7, 7, 3, 512, 512, 1), (1, 1, 1, 512, 1000, 1)]
YOLO_TINY = [(416, 416, 3, 3, 4, 1), (208, 208, 3, 16, 32, 1), (104, 104, 3, 32, 64, 1),
             (52, 52, 3, 64, 128, 1), (26, 26, 3, 128, 256, 1), (13, 13, 3, 256, 512, 1),
             (11, 11, 3, 512, 1024, 1), (9, 9, 3, 1024, 1024, 1), (7, 7, 1, 1024, 125, 1)]


def _scalesim_macs(rows):
    """SCALE-Sim: E = ceil((H - F + S) / S) * ceil((W - F + S) / S) outputs, each F*F*C*N MACs."""
    return sum(ceil((h - f + s) / s) * ceil((w - f + s) / s) * f * f * c * n for h, w, f, c, n, s in rows)


@pytest.mark.parametrize("name, rows", [("Resnet18.csv", RESNET18), ("yolo_tiny.csv", YOLO_TINY)])
def test_peer_samples(name, rows):
    graph = load_model(PEERS / name)
    assert len(graph) == len(rows)
    assert graph.totals().macs == _scalesim_macs(rows)
    assert graph.totals().params == sum(f * f * c * n for _, _, f, c, n, _ in rows)


def test_resnet18_conv1_ceil_output():
    conv1 = load_scalesim_csv(PEERS / "Resnet18.csv").layer("Conv1")
    assert conv1.out_shape == (110, 110, 64)  # ceil((224 - 7 + 2) / 2)
    assert conv1.macs == 110 * 110 * 7 * 7 * 3 * 64
    assert conv1.padding == ((0, 1), (0, 1))


def _write(tmp_path: Path, body: str, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


@pytest.mark.parametrize("body, message", [
    ("", "empty file"),
    ("a,b,c\n", "row 1: header must start with"),
    (HEADER, "no layer rows"),
    (HEADER + "C1,8,8,3,3,4\n", r"row 2 \(layer 'C1'\): expected 8 fields, got 6"),
    (HEADER + "C1,8,x,3,3,4,8,1,\n", r"row 2 \(layer 'C1'\): ifmap width must be a positive integer, got 'x'"),
    (HEADER + "C1,8,8,3,3,0,8,1,\n", r"channels must be a positive integer, got '0'"),
    (HEADER + "C1,8,8,3,3,4,8,-1,\n", r"strides must be a positive integer"),
    (HEADER + "C1,2,2,3,3,4,8,1,\n", r"row 2 \(layer 'C1'\): filter 3x3 larger than IFMAP 2x2"),
    (HEADER + "C1,8,8,3,3,4,8,1,\nC1,8,8,3,3,4,8,1,\n", r"row 3 \(layer 'C1'\): duplicate layer name"),
    (HEADER + ",8,8,3,3,4,8,1,\n", "row 2: layer name must be non-empty"),
])
def test_bad_files(tmp_path, body, message):
    path = _write(tmp_path, body)
    with pytest.raises(ValueError, match=message) as info:
        load_scalesim_csv(path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        load_model(tmp_path / "absent.csv")
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match="b.csv: cannot read"):
        load_model(binary)
    with pytest.raises(ValueError, match="nor a file with a supported suffix"):
        load_model(tmp_path / "model.xyz")


def test_rows_are_independent(tmp_path):
    path = _write(tmp_path, HEADER + "A,10,10,3,3,4,8,1,\nB,99,99,1,1,7,2,1\n")
    graph = load_scalesim_csv(path)
    assert graph.inputs == (("A.ifmap", (10, 10, 4)), ("B.ifmap", (99, 99, 7)))
    assert graph.outputs == ("A", "B")


_SAMPLES = [(PEERS / n).read_bytes() for n in ("Resnet18.csv", "yolo_tiny.csv")]


def _check_only_value_error(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        load_scalesim_csv(path)
    except ValueError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sample=st.sampled_from(_SAMPLES), cut=st.floats(0, 1),
       edits=st.lists(st.tuples(st.floats(0, 1), st.binary(max_size=3)), max_size=6))
def test_fuzz_truncated_and_mutated(tmp_path, sample, cut, edits):
    data = bytearray(sample[: int(len(sample) * cut)])
    for where, replacement in edits:
        i = int(len(data) * where)
        data[i:i + len(replacement)] = replacement
    _check_only_value_error(tmp_path / "fuzz.csv", bytes(data))


def test_fuzz_seeded_field_mutations(tmp_path):
    rng = random.Random(1234)
    tokens = ["", " ", "0", "-3", "1e3", "abc", "9" * 5000, ",", "\"", "\n", "\x00", "3.5", "\u0663"]
    text = _SAMPLES[0].decode()
    for _ in range(300):
        fields = text.split(",")
        for _ in range(rng.randint(1, 4)):
            fields[rng.randrange(len(fields))] = rng.choice(tokens)
        _check_only_value_error(tmp_path / "mut.csv", ",".join(fields).encode())


def test_sample_copy_loads_by_suffix(tmp_path):
    copy = tmp_path / "net.CSV"
    shutil.copy(PEERS / "yolo_tiny.csv", copy)
    assert load_model(copy).name == "net"
