"""One check shared by the method tests: a killed and resumed search equals an uninterrupted one."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bench_toolkit.search.differentiable import SearchConfig, resume_supernet_search, run_supernet_search


class Killed(Exception):
    pass


def assert_resume_is_exact(algo: str, config: SearchConfig, out: Path, seed: int, kill_after: int = 1) -> pd.DataFrame:
    """Run ``algo`` straight through, then again killed after epoch ``kill_after`` and resumed:
    the histories (all but wall time), alpha tables and step tables must be equal exactly.
    Returns the uninterrupted run's history."""
    straight = run_supernet_search(algo, config, "digits", None, [seed], out / "straight")

    def kill(search, row):
        if search.epoch == kill_after:
            raise Killed

    with pytest.raises(Killed):
        run_supernet_search(algo, config, "digits", None, [seed], out / "killed", callbacks=[kill])
    assert len(pd.read_parquet(out / "killed" / "history.parquet")) == kill_after
    resumed = resume_supernet_search(out / "killed")
    columns = [c for c in straight.columns if c != "epoch_seconds"]
    pd.testing.assert_frame_equal(resumed[columns], straight[columns], check_exact=True)
    for table in ("alphas.parquet", "steps.parquet"):
        if (out / "straight" / table).exists():
            pd.testing.assert_frame_equal(pd.read_parquet(out / "killed" / table),
                                          pd.read_parquet(out / "straight" / table), check_exact=True)
    return straight
