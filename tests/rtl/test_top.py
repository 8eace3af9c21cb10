"""The accelerator top (rtl/top): program encoding, whole small layers bit-exact on the Amaranth
simulator; on Verilator (slow): real BlazeFace layers and every layer kind on a 16x16 int4 top, and
``hwsim cosim layer``'s VCD window read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rtl.arch import ArrayArch
from rtl.backends import AmaranthModel
from rtl.top.cosim import bench_words, run_layer
from rtl.top.dram import DramModel, TopBench
from rtl.top.layer import conv_operands, fc_operands
from rtl.top.program import (INSTR_BITS, SEM, GemmLayer, TopArch, decode, encode, layer_program, make,
                             program_from_json, program_json)
from sw.golden.requant import OutputStage

LATENCY = 5
#: 4x4 int4 PEs running int8 as digits, 4 lanes, 2 bytes/cycle.
DIGITS = TopArch(ArrayArch(rows=4, cols=4, pe_bits=4, mac_modes=(4, 8), max_depth=256, requant_lanes=4),
                 ifmap_sram_bytes=1024, weight_sram_bytes=1024, ofmap_sram_bytes=512, bus_bytes=2,
                 param_entries=16, program_words=256)
#: 4x4 int8 PEs sharing 2 requantization lanes, 2 bytes/cycle.
INT8 = TopArch(ArrayArch(rows=4, cols=4, pe_bits=8, mac_modes=(8,), max_depth=256, requant_lanes=2),
               ifmap_sram_bytes=2048, weight_sram_bytes=2048, ofmap_sram_bytes=512, bus_bytes=2,
               param_entries=16, program_words=256)


def _stage(rng, cout: int, bits: int) -> OutputStage:
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return OutputStage(rng.integers(1 << 30, (1 << 31) - 1, cout), rng.integers(-7, -1, cout), 1, lo, hi)


def _conv(seed: int, bits: int, cin: int, cout: int, hw: int, k: int, stride: int):
    rng = np.random.default_rng(seed)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    x = rng.integers(lo, hi + 1, (1, hw, hw, cin))
    w = rng.integers(lo + 1, hi + 1, (cout, k, k, cin))
    pad = k // 2
    return conv_operands(f"conv{k}x{k}s{stride}", x, w, rng.integers(-200, 200, cout), _stage(rng, cout, bits),
                         x_zp=-1, w_bits=bits, a_bits=bits, stride=(stride, stride), padding=((pad, pad), (pad, pad)))


def _run(arch: TopArch, ops, tm: int, tn: int, order: str, tc: int | None = None):
    program = layer_program(arch, ops.layer, tm, tn, order, tc)
    return run_layer(AmaranthModel(TopBench(arch, bench_words(arch, program), LATENCY)), arch, program, ops, LATENCY)


def test_program_encoding_round_trip():
    program = [make("SYNC", release=0b10101), make("LOAD", acquire=1, release=2, buf=2, sram=513, dram=70000, words=9),
               make("LOAD", acquire=5, buf=1, sram=3, dram=4, words=5, chain=1),
               make("COMPUTE", acquire=0b11, release=0b100, x_base=3, w_base=4, p_base=5, o_base=6, mb=7, nb=8, k=300,
                    x_digits=1, w_digits=1, x_signed=1, x_zp=-128, out_zp=127, act_min=-128, act_max=-3,
                    drain_release=0b100000),
               make("STORE", acquire=32, release=16, sram=1, dram=2**32 - 1, words=1), make("END")]
    for instr in program:
        word = encode(instr)
        assert 0 <= word < 1 << INSTR_BITS
        assert decode(word) == instr
    assert program_from_json(program_json(program)) == program


def test_program_rejects_bad_fields():
    with pytest.raises(ValueError, match=r"COMPUTE.x_zp: -300 does not fit 9 signed bits"):
        make("COMPUTE", x_zp=-300)
    with pytest.raises(ValueError, match=r"LOAD: unknown field 'k'"):
        make("LOAD", k=1)
    with pytest.raises(ValueError, match=r"unknown opcode 0"):
        decode(0)


def test_a_tiles_loads_are_one_chain():
    """``io`` order, 2 runs x 2 channel blocks: every tile loads weights and parameters, every other tile its
    input first; all of a tile's LOADs but the last carry ``chain``, the first acquires every free half."""
    layer = GemmLayer("c", m=16, n=8, k=4, w_bits=4, a_bits=4, x_zp=0, out_zp=0, act_min=-8, act_max=7)
    program = layer_program(DIGITS, layer, 8, 4, "io")
    x_free, w_free = 1 << SEM["x_free"], 1 << SEM["w_free"]
    tiles, loads = [], []
    for instr in program.instructions:
        if instr.op == "LOAD":
            loads.append((instr.get("buf"), instr.get("chain"), instr.acquire))
        elif instr.op == "COMPUTE":
            tiles.append(loads)
            loads = []
    both = [(0, 1, x_free | w_free), (1, 1, 0), (2, 0, 0)]
    weights = [(1, 1, w_free), (2, 0, 0)]
    assert tiles == [both, weights, both, weights]


def test_layer_program_refuses_what_the_top_cannot_run():
    big = GemmLayer("deep", m=4, n=4, k=300, w_bits=4, a_bits=4, x_zp=0, out_zp=0, act_min=-8, act_max=7)
    with pytest.raises(ValueError, match=r"layer 'deep': K = 300 exceeds the accumulator depth 256"):
        layer_program(DIGITS, big, 4, 4, "wo")
    wide = GemmLayer("wide", m=64, n=4, k=200, w_bits=8, a_bits=8, x_zp=0, out_zp=0, act_min=-8, act_max=7)
    with pytest.raises(ValueError, match=r"layer 'wide': a tile needs 6400 input SRAM words .* holds 256"):
        layer_program(DIGITS, wide, 64, 4, "wo")
    split = GemmLayer("split", m=64, n=8, k=27, w_bits=4, a_bits=4, x_zp=0, out_zp=0, act_min=-8, act_max=7,
                      taps=9)
    # 8 x 2 array tiles x 4 drain beats x 4 output words (8-bit codes) per beat of 32-bit sums; a half: 64 words
    with pytest.raises(ValueError, match=r"layer 'split': a tile needs 256 output SRAM words .*int32 partial sums"):
        layer_program(DIGITS, split, 32, 8, "wo", 2)
    with pytest.raises(ValueError, match=r"layer 'split': a K chunk of 18 \(K = 27\) exceeds the accumulator depth 16"):
        layer_program(TopArch(ArrayArch(rows=4, cols=4, pe_bits=4, mac_modes=(4,), max_depth=16, requant_lanes=4),
                              1024, 1024, 512, bus_bytes=2), split, 8, 4, "wo", 2)
    with pytest.raises(ValueError, match=r"layer 'odd': K = 10 is not a multiple of the 9 kernel taps"):
        GemmLayer("odd", m=1, n=1, k=10, w_bits=4, a_bits=4, x_zp=0, out_zp=0, act_min=-8, act_max=7, taps=9)
    with pytest.raises(ValueError, match=r"dram_bytes_per_cycle: the RTL top needs a power of two"):
        TopArch(DIGITS.array, 1024, 1024, 512, bus_bytes=3)
    with pytest.raises(ValueError, match=r"memory.dram_latency_cycles: the RTL DRAM model needs an integer >= 1"):
        DramModel(DIGITS, 1024, 0)


@pytest.mark.parametrize("arch, bits, k, stride, tile, order", [
    (DIGITS, 4, 1, 1, (8, 4), "wo"),     # 1x1, two channel blocks, runs of two row blocks
    (DIGITS, 8, 3, 1, (8, 4), "wo"),     # 3x3 pad 1 stride 1, int8 as digits (4 beats per element)
    (DIGITS, 8, 3, 2, (6, 6), "io"),     # stride 2, runs that end inside a row block, a partial column block
    (INT8, 8, 3, 1, (12, 8), "io"),      # int8 PEs, 2 lanes per 4 columns
], ids=["1x1-int4", "3x3-int8digits", "3x3-stride2", "3x3-int8pe"])
def test_conv_layers_bit_exact_amaranth(arch, bits, k, stride, tile, order):
    ops = _conv(seed=k * 10 + stride + bits, bits=bits, cin=3, cout=6, hw=5, k=k, stride=stride)
    run = _run(arch, ops, *tile, order)
    assert run.outputs.shape == ops.golden.shape
    assert run.first_mismatch() is None
    assert run.cycles > 0


@pytest.mark.parametrize("arch, bits, order", [(DIGITS, 8, "io"), (INT8, 8, "wo")], ids=["int8digits", "int8pe"])
def test_k_chunks_of_a_3x3_conv_bit_exact_amaranth(arch, bits, order):
    """A 3x3 conv whose reduction (9 taps x 5 channels) runs in three K chunks of 2, 2 and 1 input channels
    (chunk K indices gathered tap by tap from the im2col), one array tile per tile: sums stay in the PEs."""
    ops = _conv(seed=11, bits=bits, cin=5, cout=6, hw=3, k=3, stride=1)
    run = _run(arch, ops, 4, 4, order, tc=2)
    assert run.first_mismatch() is None
    assert run.beats == 3 * 2 * ops.layer.k * (4 if arch is DIGITS else 1)  # 3 runs x 2 blocks, every element once


@pytest.mark.parametrize("arch, bits, order", [(DIGITS, 8, "wo"), (DIGITS, 4, "io"), (INT8, 8, "io")],
                         ids=["int8digits", "int4-half-words", "int8pe-2lanes"])
def test_partial_sums_spill_bit_exact_amaranth(arch, bits, order):
    """K chunks over tiles of 2 x 2 array tiles (a partial column block; the last run's tile of 1 x 2): every
    chunk but the last drains int32 sums into the output half, every chunk but the first adds them back."""
    ops = _conv(seed=13, bits=bits, cin=5, cout=6, hw=3, k=3, stride=1)
    run = _run(arch, ops, 8, 8, order, tc=3)  # two chunks: the last one's parameters are not the first one's
    assert run.first_mismatch() is None
    # runs of 8 and 1 pixels x one block of 6 channels: 2 x 2 + 1 x 2 array tiles, every element once per tile
    assert run.beats == 6 * ops.layer.k * (4 if (arch, bits) == (DIGITS, 8) else 1)


def test_fc_layer_bit_exact_amaranth():
    rng = np.random.default_rng(7)
    x = rng.integers(-128, 128, 40)
    w = rng.integers(-127, 128, (10, 40))
    ops = fc_operands("fc", x, w, rng.integers(-1000, 1000, 10), _stage(rng, 10, 8), x_zp=3, w_bits=8, a_bits=8)
    run = _run(INT8, ops, 1, 8, "wo")
    assert run.first_mismatch() is None


def test_mismatch_is_reported():
    """A wrong golden output is caught: the read-back is not the golden model's own answer."""
    ops = _conv(seed=1, bits=4, cin=2, cout=4, hw=3, k=1, stride=1)
    run = _run(DIGITS, ops, 9, 4, "wo")
    from dataclasses import replace

    bad = replace(run, golden=run.golden + np.eye(*run.golden.shape, dtype=np.int64))
    assert bad.first_mismatch() == (0, 0, int(run.outputs[0, 0]), int(run.outputs[0, 0]) + 1)


def test_cli_layer_refuses_bad_input(capsys):
    from hwsim.app.cli import main

    assert main(["cosim", "layer", "--model", "blazeface", "--layer", "conv2d", "--size", "8by8",
                 "--backend", "amaranth"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--size: expected HxW (e.g. 8x8), got '8by8'" in err[0]
    base = ["cosim", "layer", "--model", "blazeface", "--layer", "conv2d", "--size", "8x8"]
    for extra, message in ((["--vcd-window", "200:100", "--vcd", "w.vcd"], "--vcd-window: expected 0 <= START < END"),
                           (["--vcd-window", "100", "--vcd", "w.vcd"], "--vcd-window: expected START:END run cycles"),
                           (["--vcd-window", "0:100"], "--vcd-window: give --vcd FILE too"),
                           (["--vcd-window", "0:100", "--vcd", "w.vcd", "--backend", "amaranth"],
                            "the window is for --backend verilator")):
        assert main(base + extra) == 2, extra
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], extra


@pytest.mark.slow
def test_real_layer_16x16_int4_verilator(tmp_path):
    """Real BlazeFace layers (a 1x1 conv, the 5x5 stride-2 stem and a stride-2 depthwise conv, cropped, int4) on
    a 16x16 int4 top in Verilator, then random layers of every kind (3x3 at stride 1 and 2 with padding, 1x1,
    depthwise, FC, a reduction split over chunks with partial sums spilled): bit-exact with the golden model;
    their cycles equal the simulator's event mode and fast path, their DMA reads its loads (docs/rtl.md)."""
    from hwsim.app.cosim_layer import cosim_layer
    from rtl.backends import find_verilator
    from sw.data.models import blazeface_path
    from sw.extras import MissingExtra

    try:
        find_verilator()
        blazeface_path()
    except (MissingExtra, ValueError) as exc:
        pytest.skip(str(exc))
    # edge16_int4 without the int8 digit mode and with 4 requantization lanes (2 bytes/cycle: the bus
    # divides the 16-bit output word): a 16x16 top that Verilator builds in about a minute.
    config = tmp_path / "top16_int4.toml"
    config.write_text('preset = "edge16_int4"\nname = "top16_int4"\nrequant_lanes = 4\n\n[array]\nmac_modes = [4]\n\n'
                      '[memory]\ndram_bytes_per_cycle = 2.0\n')
    report = cosim_layer("blazeface", "conv2d_2", str(config), 4, (8, 8), "verilator", workdir=tmp_path)
    assert report.gemm["m"] == 64 and report.gemm["n"] == 28 and report.gemm["k"] == 24
    assert report.outputs == 64 * 28
    assert report.first_mismatch is None
    # the top frees a tile's input halves at its last beat (K 24 < Dmin 64), as the simulator's release rule
    assert report.rtl_cycles == report.event_cycles == report.fast_cycles
    # the first loads: cycles before the first beat; after the last, the RTL counts from the last beat, the
    # simulator from the end of the last tile's interval (max(K, Dmin) = 64 cycles for its K = 24 beats)
    r, m = report.rtl_split, report.sim_split
    assert r["before_first_beat"] == m["before_first_compute"]
    assert r["after_last_beat"] == m["after_last_compute"] + 64 - 24
    # the same Verilated top on the 5x5 stride-2 stem (host im2col, charged by the simulator) and a stride-2
    # depthwise layer (28 groups)
    for layer, size, groups in (("conv2d", (16, 16), 1), ("depthwise_conv2d_2", (8, 8), 28)):
        report = cosim_layer("blazeface", layer, str(config), 4, size, "verilator", workdir=tmp_path)
        assert report.gemm["groups"] == groups and report.first_mismatch is None, layer
        assert report.rtl_cycles == report.event_cycles == report.fast_cycles, layer
        assert report.rtl_split["dram_reads"] == report.sim_split["dram_loads"], layer
        assert report.rtl_split["before_first_beat"] == report.sim_split["before_first_compute"], layer
    # every layer kind of the small top's test on the same Verilated 16x16 top (the build above, found by its key),
    # and a 1x1 conv whose reduction (K 5,120) exceeds the accumulator depth (4,608): two K chunks, partial
    # sums spilled to DRAM
    from hwsim.app.cosim_layer import VERILATOR_CFLAGS
    from hwsim.app.rtltop import top_arch
    from hwsim.configfile import load_config
    from rtl.top.verilator import TopVerilatorModel
    from tests.rtl.test_top_small_sram import _random_conv
    from tests.rtl.test_top_verilator import _layer_kinds, check_layer_kinds

    cfg = load_config(str(config))
    top, lat, words = top_arch(cfg), cfg.memory.dram_latency_cycles, 1 << 16
    assert top.array.max_depth == 4608
    key = f"TopBench({top!r}, dram_words={words}, latency={lat})"  # as cosim_layer names the bench
    model = TopVerilatorModel(TopBench(top, words, lat), tmp_path, cflags=VERILATOR_CFLAGS, key=key)
    kinds = check_layer_kinds(model, cfg, [*_layer_kinds(), ("K 5120", *_random_conv(25, 4, 4, 5120, 20, (-11, -7)))],
                              words)
    assert {(True, True, False), (False, False, True), (False, False, False)} <= kinds


def _port_samples(path: Path, names: tuple[str, ...]) -> dict[int, dict[str, int]]:
    """The top-level ports ``names`` of a VCD at every dumped time: ``{time: {name: value}}`` (values held
    between changes; read with pyvcd's tokenizer, independently of the harness that wrote the file)."""
    from vcd.reader import TokenKind, tokenize

    scope, ids, now, values, samples = [], {}, None, {}, {}
    with open(path, "rb") as f:
        for tok in tokenize(f):
            if tok.kind is TokenKind.SCOPE:
                scope.append(tok.scope.ident)
            elif tok.kind is TokenKind.UPSCOPE:
                scope.pop()
            elif tok.kind is TokenKind.VAR and scope == ["TOP"] and tok.var.reference in names:
                ids[tok.var.id_code] = tok.var.reference
            elif tok.kind is TokenKind.CHANGE_TIME:
                if now is not None:
                    samples[now] = dict(values)
                now = tok.time_change
            elif tok.kind is TokenKind.CHANGE_SCALAR and tok.scalar_change.id_code in ids:
                values[ids[tok.scalar_change.id_code]] = int(tok.scalar_change.value == "1")
            elif tok.kind is TokenKind.CHANGE_VECTOR and tok.vector_change.id_code in ids:
                values[ids[tok.vector_change.id_code]] = int(tok.vector_change.value)
    if now is not None:
        samples[now] = dict(values)
    return samples


@pytest.mark.slow
def test_cli_layer_vcd_window_verilator(tmp_path, monkeypatch, capsys):
    """hwsim cosim layer --backend verilator --vcd --vcd-window on a real BlazeFace layer (4x4 top): read back
    from the file, the ports at cycle c's 10c ns sample give the report's numbers (done at the RTL cycle count,
    the array beats, DRAM reads and writes), the window bounds the times, and a narrower window holds the
    same values as the full one at the same times."""
    import json

    from hwsim.app.cli import main
    from rtl.backends import find_verilator
    from sw.extras import MissingExtra

    try:
        find_verilator()
    except MissingExtra as exc:
        pytest.skip(str(exc))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    config = Path(__file__).resolve().parents[2] / "examples" / "top4_small_sram.toml"
    base = ["cosim", "layer", "--model", "blazeface", "--layer", "conv2d_2", "--config", str(config), "--bits", "4",
            "--size", "4x4"]
    assert main(base + ["--vcd", str(tmp_path / "all.vcd"), "--vcd-window", "0:100000",
                        "--json", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    done = report["rtl_cycles"]
    assert f"run cycles 0-{done} at 10 ns each" in capsys.readouterr().out
    ports = ("done", "beat", "rd_valid", "wr_valid", "start")
    full = _port_samples(tmp_path / "all.vcd", ports)
    assert sorted(full) == [t for c in range(done + 1) for t in (10 * c, 10 * c + 5)]
    cycle = [full[10 * c] for c in range(done + 1)]  # settled, before the rising edge: what the harness samples
    assert [c for c, v in enumerate(cycle) if v["start"]] == [0]
    assert [c for c, v in enumerate(cycle) if v["done"] and c > 0] == [done]
    split = report["rtl_split"]
    assert sum(v["beat"] for v in cycle) == split["array_beats"] > 0
    assert sum(v["rd_valid"] for v in cycle) == split["dram_reads"] > 0
    assert sum(v["wr_valid"] for v in cycle) == split["dram_writes"] > 0
    assert main(base + ["--vcd", str(tmp_path / "part.vcd"), "--vcd-window", "40:60"]) == 0
    part = _port_samples(tmp_path / "part.vcd", ports)
    assert sorted(part) == list(range(400, 600, 5))
    assert all(part[t] == full[t] for t in part)
    assert not list(tmp_path.glob(".*partial"))


def test_top_arch_from_the_simulator_config():
    from dataclasses import replace

    from hwsim.app.rtltop import top_arch
    from hwsim.configfile import load_config

    cfg = load_config("edge16_int4")
    top = top_arch(cfg)
    assert top.array == cfg.arch and top.bus_bytes == 8
    # 64 KiB of 64-bit input words, 128 KiB of 64-bit weight words, 32 KiB of 128-bit output words, halved.
    assert (top.half("x"), top.half("w"), top.half("o")) == (4096, 8192, 1024)
    odd = replace(cfg, memory=replace(cfg.memory, dram_bytes_per_cycle=6.0))
    with pytest.raises(ValueError, match=r"config 'edge16_int4': .* power of two >= 1 bytes/cycle"):
        top_arch(odd)


def _onnx_conv(tmp_path, samples: int, seed: int):
    """A float ONNX conv (3x3, 3 -> 8 channels, 16x16) saved as ``m.onnx`` and ``samples`` seeded calibration
    inputs as ``cal.npy``; returns the model's path."""
    import onnx

    from tests.importers.onnx_models import MODELS

    model, _ = MODELS["conv_bn_relu"]()
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    np.save(tmp_path / "cal.npy", np.random.default_rng(seed).normal(size=(samples, 3, 16, 16)))
    return path


def _top4_config(tmp_path, modes: str):
    """A 4x4 top (edge16_int4's PEs, MAC ``modes``, 4 lanes, 4 / 4 / 2 KiB SRAMs, 2 bytes/cycle) as a TOML file."""
    config = tmp_path / "top4.toml"
    config.write_text('preset = "edge16_int4"\nname = "top4"\nrequant_lanes = 4\n\n[array]\nrows = 4\ncols = 4\n'
                      f'mac_modes = {modes}\n\n[memory]\nifmap_sram_bytes = 4096\nweight_sram_bytes = 4096\n'
                      'ofmap_sram_bytes = 2048\ndram_bytes_per_cycle = 2.0\n')
    return config


def _quantized_file(tmp_path, symmetric: bool):
    """A float ONNX conv (3x3, 3 -> 8 channels, 16x16) and its int8 PTQ quantized-model file."""
    from hwsim.app.cli import main

    path = _onnx_conv(tmp_path, 3, 0)
    q = tmp_path / ("sym.npz" if symmetric else "asym.npz")
    extra = ["--symmetric-weights"] if symmetric else []
    assert main(["quantize", str(path), "--bits", "8", "--calibration", str(tmp_path / "cal.npy"),
                 "--out", str(q), *extra]) == 0
    return path, q


def test_quantized_file_layer_bit_exact_amaranth(tmp_path, capsys):
    """hwsim cosim layer --quantized: the file's integer weights and parameters through the top (4x4 int8)."""
    from hwsim.app.cli import main
    from hwsim.app.cosim_layer import cosim_layer
    from sw.graph import load_imported_model
    from sw.runtime.qmodel import load_quantized

    path, q = _quantized_file(tmp_path, symmetric=True)
    config = _top4_config(tmp_path, "[4, 8]")
    report = cosim_layer(str(path), "Conv_2", str(config), None, (4, 4), "amaranth", quantized=str(q))
    assert report.bits == 8 and report.first_mismatch is None and report.outputs == 4 * 4 * 8
    # The weights the top ran are the file's: symmetric per-channel codes, zero point 0.
    net = load_imported_model(path)
    lp = load_quantized(q, net, path).plan.layers["Conv_2"]
    assert np.all(np.asarray(lp.weight_zero_point) == 0) and np.abs(lp.weights).max() == 127
    # A file with weight zero points is refused in one line (the array has no weight zero point).
    _, asym = _quantized_file(tmp_path, symmetric=False)
    capsys.readouterr()
    assert main(["cosim", "layer", "--model", str(path), "--layer", "Conv_2", "--quantized", str(asym),
                 "--config", str(config), "--size", "4x4", "--backend", "amaranth"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nonzero zero points" in err[0] and "--symmetric-weights" in err[0]
    assert main(["cosim", "layer", "--model", str(path), "--layer", "Conv_2", "--quantized", str(q),
                 "--bits", "4", "--backend", "amaranth"]) == 2


@pytest.mark.slow
def test_brecq_file_layer_bit_exact_amaranth(tmp_path):
    """A block-reconstruction (brecq) w4a4 file with symmetric weights: its learned rounding and scales run
    on the top bit-exactly (4x4 int4 PEs)."""
    pytest.importorskip("jax")
    from hwsim.app.cli import main
    from hwsim.app.cosim_layer import cosim_layer
    from sw.graph import load_imported_model
    from sw.runtime.qmodel import load_quantized

    path = _onnx_conv(tmp_path, 4, 1)
    q = tmp_path / "brecq.npz"
    assert main(["quantize", str(path), "--method", "brecq", "--bits", "4", "--symmetric-weights", "--steps", "4",
                 "--calibration", str(tmp_path / "cal.npy"), "--out", str(q)]) == 0
    qm = load_quantized(q, load_imported_model(path), path)
    assert qm.provenance["method"] == "brecq" and qm.bits["Conv_2"] == (4, 4)
    lp = qm.plan.layers["Conv_2"]
    assert np.all(np.asarray(lp.weight_zero_point) == 0) and np.abs(lp.weights).max() <= 7
    config = _top4_config(tmp_path, "[4]")
    report = cosim_layer(str(path), "Conv_2", str(config), None, (5, 5), "amaranth", quantized=str(q))
    assert report.bits == 4 and report.first_mismatch is None and report.outputs == 5 * 5 * 8
