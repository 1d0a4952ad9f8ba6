"""Issue 13: the number of concurrent analyses comes from the memory budget, not a constant."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.analysis.budget import (
    ANALYSIS_PEAK_MB,
    BASELINE_MB,
    DEFAULT_BUDGET_MB,
    MAX_SLOTS,
    analysis_slots,
    cgroup_limit_mb,
    memory_budget_mb,
    release_memory,
)
from app.settings import Settings, SettingsError


@pytest.mark.parametrize(
    ("budget", "baseline", "per", "slots"),
    [
        (1000, 200, 100, 8),  # floor((1000 - 200) / 100)
        (1099, 200, 100, 8),  # rounds down
        (350, 200, 100, 1),
        (150, 200, 100, 1),  # less than the baseline still allows one
        (10**6, 200, 100, MAX_SLOTS),
    ],
)
def test_slots_formula(budget: int, baseline: int, per: int, slots: int) -> None:
    assert analysis_slots(budget, baseline, per) == slots


def test_the_default_budget_gives_the_measured_figures() -> None:
    expected = (DEFAULT_BUDGET_MB - BASELINE_MB) // ANALYSIS_PEAK_MB
    assert analysis_slots(DEFAULT_BUDGET_MB) == expected >= 2


def _files(tmp_path: Path, v2: str | None, v1: str | None) -> tuple[Path, Path]:
    a, b = tmp_path / "memory.max", tmp_path / "memory.limit_in_bytes"
    if v2 is not None:
        a.write_text(v2)
    if v1 is not None:
        b.write_text(v1)
    return a, b


@pytest.mark.parametrize(
    ("v2", "v1", "limit"),
    [
        ("268435456\n", None, 256),  # cgroup v2, 256 MiB
        ("max\n", None, None),
        (None, "1073741824\n", 1024),  # cgroup v1, 1 GiB
        (None, "9223372036854771712\n", None),  # v1's "no limit"
        (None, None, None),
        ("garbage", None, None),
    ],
)
def test_cgroup_limit(tmp_path: Path, v2: str | None, v1: str | None, limit: int | None) -> None:
    assert cgroup_limit_mb(_files(tmp_path, v2, v1)) == limit


def test_budget_is_the_setting_else_the_cgroup_else_512(tmp_path: Path) -> None:
    limited = _files(tmp_path, "805306368", None)  # 768 MiB
    assert memory_budget_mb(300, limited) == 300
    assert memory_budget_mb(None, limited) == 768
    assert memory_budget_mb(None, (tmp_path / "none",)) == DEFAULT_BUDGET_MB == 512


def test_the_setting_is_read_and_checked() -> None:
    env = {"CRAYON_MEMORY_BUDGET_MB": "1024"}
    assert Settings.from_env(env, env_file=None).memory_budget_mb == 1024
    assert Settings.from_env({}, env_file=None).memory_budget_mb is None
    with pytest.raises(SettingsError, match="CRAYON_MEMORY_BUDGET_MB"):
        Settings.from_env({"CRAYON_MEMORY_BUDGET_MB": "12"}, env_file=None)


def test_memory_can_be_released_on_glibc() -> None:
    assert release_memory() is True
