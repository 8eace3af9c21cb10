# amaranth: UnusedElaboratable=no
"""Every preset and every precision mode: ArrayArch accepts exactly what the generated RTL executes."""

from dataclasses import replace

import numpy as np
import pytest

from hwsim.configfile import PRESETS, load_config, load_preset
from rtl.arch import ACC_WIDTH_MAX, ArrayArch
from rtl.array import operand_layout
from rtl.backends import AmaranthModel
from rtl.cosim import cosim_array
from rtl.mac import MacUnit
from tests.rtl.test_array import _random_tiles

MODES = [(4, 4), (4, 8), (8, 4), (8, 8)]
#: An int4-only array (not a preset) so that the walk also sees modes the RTL lacks.
INT4_ONLY = ArrayArch(rows=16, cols=16, pe_bits=4, mac_modes=(4,), max_depth=4608, requant_lanes=16)


def _archs():
    return [(name, load_preset(name).arch) for name in PRESETS] + [("int4_only", INT4_ONLY)]


@pytest.mark.parametrize(("name", "arch"), _archs(), ids=[n for n, _ in _archs()])
@pytest.mark.parametrize(("w_bits", "a_bits"), MODES, ids=[f"w{w}a{a}" for w, a in MODES])
def test_accepts_exactly_what_the_rtl_executes(name, arch, w_bits, a_bits):
    # The generated RTL's capabilities, read from the elaborated design:
    fields = dict(operand_layout(arch))
    lane_bits = fields["x"].shape.elem_shape.width
    has_digits = "x_part" in fields and "w_part" in fields
    executable = max(w_bits, a_bits) <= lane_bits or has_digits
    mac = MacUnit(arch)
    assert mac.result.shape().width == arch.acc_width <= ACC_WIDTH_MAX
    if not executable:
        with pytest.raises(ValueError, match=f"w{w_bits}a{a_bits} is not supported"):
            arch.mac_passes(w_bits, a_bits)
        return
    passes = arch.mac_passes(w_bits, a_bits)
    digits = 2 if has_digits else 1
    expected = (digits if w_bits > lane_bits else 1) * (digits if a_bits > lane_bits else 1)
    assert passes == expected  # ceil(w/pe) * ceil(a/pe) on digit PEs, else 1
    # Run it: the same PE width, modes and accumulator on a 2x2 array, bit-exact at passes beats/element.
    small = replace(arch, rows=2, cols=2, requant_lanes=2)
    assert small.acc_width == arch.acc_width
    vectors = _random_tiles(small, 3, 5, w_bits * 10 + a_bits, w_bits, a_bits)
    result = cosim_array(AmaranthModel(small.create()), vectors, small, w_bits, a_bits)
    np.testing.assert_array_equal(result.rtl, result.golden)
    assert result.cycles.last_beat[0] - result.cycles.first_beat[0] + 1 == 5 * passes


def test_simulator_refuses_modes_the_rtl_lacks(tmp_path):
    path = tmp_path / "int4.toml"
    path.write_text('preset = "edge16_int4"\n[array]\nmac_modes = [4]\n')
    cfg = load_config(str(path))
    assert cfg.arch == INT4_ONLY and cfg.mac_passes(4, 4) == 1
    with pytest.raises(ValueError, match="w8a8 is not supported .MAC modes: int4."):
        cfg.mac_passes(8, 8, "layer 'conv1': ")


def test_configs_beyond_the_accumulator_are_rejected(tmp_path):
    """A depth the 32-bit accumulator cannot hold is refused when the configuration loads."""
    path = tmp_path / "deep.toml"
    path.write_text('preset = "int8_32x32"\n[array]\nmax_depth = 65794\n')
    with pytest.raises(ValueError, match=r"array.max_depth: 65794 needs a 33-bit accumulator.*at most 65793"):
        load_config(str(path))
    path.write_text('preset = "int8_32x32"\n[array]\nmax_depth = 65793\n')
    assert load_config(str(path)).arch.acc_width == 32
