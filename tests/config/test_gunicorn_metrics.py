"""The gunicorn hooks of Prometheus multiprocess mode."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from config import gunicorn_metrics


def test_on_starting_empties_the_directory_of_an_earlier_run(tmp_path: Path, monkeypatch) -> None:
    directory = tmp_path / "prometheus"
    directory.mkdir()
    (directory / "counter_123.db").write_bytes(b"old")
    (directory / "histogram_456.db").write_bytes(b"old")
    (directory / "README").write_text("not ours")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))

    gunicorn_metrics.on_starting(server=None)

    assert sorted(path.name for path in directory.iterdir()) == ["README"]


def test_on_starting_makes_a_missing_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "new" / "prometheus"))

    gunicorn_metrics.on_starting(server=None)

    assert (tmp_path / "new" / "prometheus").is_dir()


def test_child_exit_drops_the_live_gauges_of_the_dead_worker(tmp_path: Path, monkeypatch) -> None:
    for name in ("gauge_livesum_77.db", "gauge_livesum_78.db", "counter_77.db"):
        (tmp_path / name).write_bytes(b"")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    gunicorn_metrics.child_exit(server=None, worker=SimpleNamespace(pid=77))

    # Its counters stay: what it counted happened.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["counter_77.db", "gauge_livesum_78.db"]


@pytest.mark.parametrize("hook", ["on_starting", "child_exit"])
def test_without_the_directory_the_hooks_do_nothing(tmp_path: Path, monkeypatch, hook: str) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.chdir(tmp_path)

    if hook == "on_starting":
        gunicorn_metrics.on_starting(server=None)
    else:
        gunicorn_metrics.child_exit(server=None, worker=SimpleNamespace(pid=1))

    assert list(tmp_path.iterdir()) == []
