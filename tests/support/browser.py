"""Where the browser tests find their Chromium.

Debian ships Chromium as a package (/usr/bin/chromium, .ci/apt-packages.txt). Ubuntu, the OS of
GitHub's runners, ships it only as a snap, which apt cannot install in a job; the runners come
with Google Chrome instead, so ci.yml points CRAYON_CHROMIUM at it (.ci/apt-packages.ubuntu.txt
has no browser). Any Chromium-based browser that Playwright can drive works.
"""

from __future__ import annotations

import os
from pathlib import Path

DEBIAN_CHROMIUM = "/usr/bin/chromium"


def chromium_executable() -> str:
    """CRAYON_CHROMIUM when set (e.g. /usr/bin/google-chrome on GitHub), else Debian's Chromium."""
    return os.environ.get("CRAYON_CHROMIUM") or DEBIAN_CHROMIUM


def missing_message(path: str) -> str:
    return (
        f"{path} is missing: install Debian's chromium (.ci/apt-packages.txt), or set "
        "CRAYON_CHROMIUM to a Chromium or Chrome binary (GitHub's Ubuntu runners: "
        "/usr/bin/google-chrome)"
    )


def have_chromium() -> bool:
    return Path(chromium_executable()).exists()
