"""Shared fixtures: an isolated benchmark cache per test, the real NB201 table when present."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_NB201_CSV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nb201" / "nats_tss_test_acc_200ep.csv"


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty cache directory, so no test sees another's conversions."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("BENCH_TOOLKIT_CACHE", str(cache))
    return cache


@pytest.fixture(scope="session")
def nb201_csv() -> Path:
    """The real NAS-Bench-201 table from ../shared; tests that need it skip when it is absent."""
    if not SHARED_NB201_CSV.is_file():
        pytest.skip(f"real NB201 table not found at {SHARED_NB201_CSV}")
    return SHARED_NB201_CSV
