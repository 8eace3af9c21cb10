"""Sub-commands of the ``hwsim`` CLI, in the order ``hwsim --help`` lists them.

Each module has ``register(subparsers)``; add a new command by adding its module here.
"""

from hwsim.commands import cosim, data, demo, eval as eval_cmd, inspect_cmd, models, report, run, simulate, sweep, verilog

COMMANDS = (simulate, sweep, demo, models, inspect_cmd, run, verilog, cosim, report, data, eval_cmd)
