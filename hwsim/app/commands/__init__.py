"""Sub-commands of the ``hwsim`` CLI, in the order ``hwsim --help`` lists them.

Each command module has ``register(subparsers)`` (adds its parser, sets ``func``);
add a new command with one row in :data:`COMMANDS`. Modules are imported only when
their command runs, so ``hwsim --help`` and light commands start fast.
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["COMMANDS", "HELP", "module_name"]

#: ``(command, module under hwsim.app.commands, one-line help)`` in listing order.
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("simulate", "simulate", "simulate a detector layer by layer on a MAC-array accelerator"),
    ("sweep", "sweep", "simulate every (model, bits, design) of a sweep file; results table and Pareto fronts"),
    ("demo", "demo", "quantize a small built-in network (FQN) and run the integer golden model"),
    ("models", "models", "list the built-in model zoo"),
    ("inspect", "inspect_cmd", "per-layer table of a zoo model or model file"),
    ("run", "run", "run a model file through the integer golden model"),
    ("quantize", "quantize", "quantize a float model file (ptq, gptq, adaround, fqn) into a quantized-model file"),
    ("verilog", "verilog", "write the configuration's MAC, requantization unit and PE array as Verilog"),
    ("cosim", "cosim", "run vectors through the RTL and compare with the golden model"),
    ("report", "report", "regenerate the curated markdown reports"),
    ("data", "data", "generate labeled synthetic datasets (COCO format)"),
    ("eval", "eval", "COCO mAP of a detector (float and integer) on a labeled dataset"),
)

#: Command -> one-line help (the text ``hwsim --help`` lists and each parser uses).
HELP = MappingProxyType({name: text for name, _, text in COMMANDS})


def module_name(command: str) -> str:
    """Dotted module implementing ``command``."""
    return "hwsim.app.commands." + next(mod for name, mod, _ in COMMANDS if name == command)
