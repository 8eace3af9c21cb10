"""Design-space exploration: sweep files, one row per (model, bits, design), resume, Pareto fronts.

Data flow: sweep file (:mod:`.spec`) -> tasks -> :func:`.row.run_task` on local processes or Dask
(:mod:`.executors`) -> ``results.jsonl`` (:mod:`.store`) -> ``results.csv`` and Pareto fronts
(:mod:`.pareto`); :mod:`.runner` ties them together. Area model: :mod:`hwsim.area`.
"""
