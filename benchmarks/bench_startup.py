"""Start-up time of the ``hwsim`` CLI: ``hwsim --help`` and ``hwsim simulate`` on the default model.

Prints, as medians of ``--repeats`` fresh processes (wall seconds):

* ``python -c pass`` and ``python -c "import numpy"``: the floors measured in the same run;
* ``hwsim --help``: the whole command;
* ``hwsim simulate`` start-up: from interpreter start until the simulation begins (imports, argument
  parsing, configuration and model loaded), i.e. ``python -c pass`` plus the in-process time of those
  steps reported by the child;
* ``hwsim simulate --no-layers``: the whole default run (start-up + simulation + output).

Run: ``python benchmarks/bench_startup.py [--repeats N]``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

STARTUP_PROBE = """
import time
t0 = time.perf_counter()
from hwsim.app.cli import build_parser
args = build_parser("simulate").parse_args(["simulate"])
from hwsim.configfile import load_config
from sw.graph import load_model
load_config(args.config)
load_model(args.model)
print(time.perf_counter() - t0)
"""


def _wall(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _median(fn, repeats: int) -> float:
    return statistics.median(fn() for _ in range(repeats))


def main(argv: list[str] | None = None) -> int:
    """Measure and print the start-up figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    hwsim = shutil.which("hwsim")
    if hwsim is None:
        raise SystemExit("bench_startup: the 'hwsim' command is not on PATH (pip install . first)")
    py = sys.executable
    bare = _median(lambda: _wall([py, "-c", "pass"]), args.repeats)
    numpy = _median(lambda: _wall([py, "-c", "import numpy"]), args.repeats)
    help_s = _median(lambda: _wall([hwsim, "--help"]), args.repeats)
    probe = _median(lambda: float(subprocess.run([py, "-c", STARTUP_PROBE], check=True, capture_output=True,
                                                  text=True).stdout), args.repeats)
    full = _median(lambda: _wall([hwsim, "simulate", "--no-layers"]), max(3, args.repeats // 2))
    print(f"python -c pass                      {bare:.3f} s")
    print(f"python -c 'import numpy'            {numpy:.3f} s")
    print(f"hwsim --help                        {help_s:.3f} s  ({help_s / bare:.1f}x python -c pass)")
    print(f"hwsim simulate start-up             {bare + probe:.3f} s  (interpreter {bare:.3f} + imports, "
          f"parsing, config and model {probe:.3f})")
    print(f"hwsim simulate --no-layers (whole)  {full:.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
