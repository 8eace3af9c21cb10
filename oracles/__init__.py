"""Dev-only external oracles shared by the tests and the benchmarks (not part of the installed package).

``tflite_ref`` builds tiny ``.tflite`` models with the flatbuffer object API of ``ai-edge-litert``
and runs them on TFLite's reference kernels (``BUILTIN_REF``).
"""
