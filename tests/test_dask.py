"""The sweep on a Dask cluster (distributed.LocalCluster): the rows of a local run."""

from __future__ import annotations

import json

import pytest

distributed = pytest.importorskip("distributed", reason="distributed is not installed (pip install 'nlpt-threshold[dask]')")

from nlpt.cli import main  # noqa: E402
from nlpt.sweep import DefaultData, plan_sweep, run_sweep  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c


def test_dask_rows_equal_local_rows(cluster):
    plan = plan_sweep(DefaultData(80, 2), [3, 4, 6], [1e-4, 1e-3])
    local = run_sweep(plan)
    seen = []
    with distributed.Client(cluster) as client:
        remote = run_sweep(plan, client=client, on_case=lambda rec: seen.append(rec["config_hash"]))
    assert remote.rows() == local.rows()
    assert sorted(seen) == sorted(c.config_hash for c in plan.cases)  # every case streamed once
    hosts = {c.record["worker"]["pid"] for c in remote.cases}
    assert hosts.isdisjoint({c.record["worker"]["pid"] for c in local.cases})  # really ran elsewhere


def test_cli_executor_dask_with_a_scheduler_address(cluster, tmp_path, capsys):
    args = ["reproduce", "--no-lambda", "--m", "3", "5", "--alphas", "1e-5", "1e-4", "--no-plots", "--quiet"]
    assert main(args + ["--jobs", "1", "--out", str(tmp_path / "local")]) == 0
    assert main(args + ["--executor", "dask", "--scheduler", cluster.scheduler_address,
                        "--out", str(tmp_path / "dask")]) == 0
    a = json.loads((tmp_path / "local" / "results.json").read_text())
    b = json.loads((tmp_path / "dask" / "results.json").read_text())
    assert b["rows"] == a["rows"]
    lines = (tmp_path / "dask" / "cases.jsonl").read_text().splitlines()
    assert sorted(json.loads(x)["config_hash"] for x in lines) == sorted(r["config_hash"] for r in a["rows"])


def test_unreachable_scheduler_is_a_clean_error(tmp_path, capsys):
    code = main(["reproduce", "--m", "3", "--alphas", "1e-5", "--scheduler", "tcp://127.0.0.1:9",
                 "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "scheduler: expected the address of a running Dask scheduler" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_missing_distributed_is_a_clean_error(monkeypatch, tmp_path, capsys):
    import builtins

    real = builtins.__import__

    def no_distributed(name, *args, **kwargs):
        if name == "distributed" or name.startswith("distributed."):
            raise ImportError("no distributed")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_distributed)
    code = main(["reproduce", "--m", "3", "--executor", "dask", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "pip install 'nlpt-threshold[dask]'" in err
    assert not (tmp_path / "o").exists()
