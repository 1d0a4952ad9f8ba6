"""How many analyses may run at once, from the memory the process may use; giving memory back.

An analysis is the largest memory user in the app. Rather than a fixed number of concurrent
analyses, the number is derived from a budget: the configured ``CRAYON_MEMORY_BUDGET_MB``, else
the container's (cgroup's) memory limit, else 512 MB, minus what the app holds at rest, divided
by the peak one analysis adds (both measured with bench/analysis.py; see docs/analysis.md).
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

#: Budget when neither the setting nor a cgroup limit says otherwise.
DEFAULT_BUDGET_MB: Final = 512
#: Resident memory of `crayon serve` at rest after start and a first analysis (measured:
#: bench/analysis.py prints it; ~110 MB), rounded up.
BASELINE_MB: Final = 128
#: Peak memory one analysis adds over that, worst accepted input (measured by bench/analysis.py:
#: 25-megapixel JPEG and PNG, 4-megapixel RGBA WebP, ~70 MB), rounded up.
ANALYSIS_PEAK_MB: Final = 80
#: More analyses at once than this only queue threads: the work is CPU-bound.
MAX_SLOTS: Final = 16
#: Analyses of images larger than this (pixels) hand freed memory back to the system.
TRIM_FROM_PIXELS: Final = 2_000_000

_CGROUP_FILES: Final = (
    Path("/sys/fs/cgroup/memory.max"),  # cgroup v2
    Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),  # cgroup v1
)
#: A cgroup v1 "limit" this large means no limit.
_UNLIMITED: Final = 1 << 50


def cgroup_limit_mb(files: tuple[Path, ...] = _CGROUP_FILES) -> int | None:
    """The memory limit of this process's cgroup in MB, or None when there is none or unreadable."""
    for path in files:
        try:
            raw = path.read_text().strip()
        except OSError:
            continue
        if raw == "max":
            return None
        try:
            limit = int(raw)
        except ValueError:
            continue
        return None if limit <= 0 or limit >= _UNLIMITED else limit // (1024 * 1024)
    return None


def memory_budget_mb(configured: int | None, files: tuple[Path, ...] = _CGROUP_FILES) -> int:
    """The budget in MB: the setting, else the cgroup's limit, else ``DEFAULT_BUDGET_MB``."""
    if configured is not None:
        return configured
    return cgroup_limit_mb(files) or DEFAULT_BUDGET_MB


def analysis_slots(
    budget_mb: int,
    baseline_mb: int = BASELINE_MB,
    per_analysis_mb: int = ANALYSIS_PEAK_MB,
) -> int:
    """floor((budget - baseline) / per-analysis peak), at least 1 and at most ``MAX_SLOTS``."""
    return max(1, min(MAX_SLOTS, (budget_mb - baseline_mb) // per_analysis_mb))


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    # The process's own symbol table (dlopen(NULL)) already holds glibc's malloc_trim.
    # ctypes.util.find_library would fork a helper (ldconfig) from a server holding hundreds
    # of MiB, and a fork in a threaded process is a hazard of its own.
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None
    return trim


def release_memory() -> bool:
    """Ask glibc to return freed heap pages to the system; False where that is not possible.

    A large image's buffers are freed after an analysis, but glibc keeps the pages of its
    arenas for reuse, so the resident size stays near its peak; malloc_trim gives them back.
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
