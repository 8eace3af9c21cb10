"""The same sweep on a 2-worker Dask LocalCluster gives the local run's rows, row for row."""

from __future__ import annotations

import pytest

from hwsim.app.sweep.executors import dask_cluster, serial
from hwsim.app.sweep.runner import run_sweep
from hwsim.app.sweep.spec import load_sweep

distributed = pytest.importorskip("distributed")


@pytest.mark.slow
def test_local_cluster_rows_equal_local_rows(sweep_file, tmp_path):
    spec = load_sweep(sweep_file)
    run_sweep(spec, tmp_path / "local", serial, quiet=True)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster:
        summary = run_sweep(spec, tmp_path / "dask", lambda: dask_cluster(cluster.scheduler_address), quiet=True)
    assert summary.computed == 10
    for name in ("results.csv", "failed.csv", "pareto.csv", "pareto.md"):
        assert (tmp_path / "dask" / name).read_text() == (tmp_path / "local" / name).read_text()
