"""The plain install reads both formats: importing and running models needs no dev-only package
(onnxruntime, ai-edge-litert, tensorflow are blocked in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import onnx

from tests.importers.onnx_models import MODELS
from tests.runtime.tflite_models import chain_model

_BLOCKED = """
import importlib.abc, sys
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("ai_edge_litert", "onnxruntime", "tensorflow", "tests", "oracles"):
            raise ModuleNotFoundError(f"{name} is dev-only")
sys.meta_path.insert(0, _Block())
from hwsim.app import cli
for path in sys.argv[1:]:
    assert cli.main(["inspect", path, "--ops"]) == 0
    assert cli.main(["inspect", path]) == 0
"""


def test_models_import_without_dev_packages(tmp_path):
    onnx_path, tflite_path = tmp_path / "m.onnx", tmp_path / "m.tflite"
    onnx.save(MODELS["decomposed_activations"]()[0], onnx_path)
    tflite_path.write_bytes(chain_model())
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", _BLOCKED, str(onnx_path), str(tflite_path)], cwd=root,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("all supported") == 2
