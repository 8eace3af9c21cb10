"""End-to-end studies on the real trained detectors (BlazeFace, YOLOX-tiny).

* :mod:`hwsim.app.studies.setups` — the models, calibration and held-out evaluation inputs,
  and the float post-processing (decode) of each;
* :mod:`hwsim.app.studies.quality` — float reference vs integer golden execution: per-layer
  and final-output SQNR, detection agreement;
* :mod:`hwsim.app.studies.ablation` — FQN Table 2 / Table 4 grids and seed-003-style
  partial (per-part) bit widths;
* :mod:`hwsim.app.studies.weights` — per-output-channel weight range spread (FQN Figure 2);
* :mod:`hwsim.app.studies.accelerator` — the imported graphs on simulator presets;
* :mod:`hwsim.app.studies.rtl_tiles` — real tiles through the Verilated array, bit-exact,
  and measured tile cycles vs the simulator's cost function.
"""
