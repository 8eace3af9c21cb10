"""The training floor: fake-quantized differentiable execution of the IR and quantization methods.

Modules that need JAX import it through :func:`sw.extras.require` (extra
``train``); :mod:`sw.train.gptq` is numpy only. Nothing below this floor
imports it.
"""
