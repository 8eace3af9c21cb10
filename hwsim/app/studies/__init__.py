"""End-to-end studies on the real trained detectors (PicoDet layout, YOLOX-tiny, BlazeFace).

* :mod:`hwsim.app.studies.detection` — COCO mAP (BlazeFace: agreement with the float
  model) of float, PTQ int8 / int4 / w4a8, first/last-layer 8-bit, FQN Table 2 / Table 4
  and seed-003 partial quantization on the synthetic labeled datasets (``hwsim eval``'s machinery);
* :mod:`hwsim.app.studies.setups` — BlazeFace and YOLOX-tiny inputs of the RTL tile checks;
* :mod:`hwsim.app.studies.quality` — calibrated activation ranges (min/max, percentile);
* :mod:`hwsim.app.studies.weights` — per-output-channel weight range spread (FQN Figure 2);
* :mod:`hwsim.app.studies.accelerator` — the imported graphs on simulator presets;
* :mod:`hwsim.app.studies.rtl_tiles` — real tiles through the Verilated array, bit-exact,
  and measured tile cycles vs the simulator's cost function.
"""
