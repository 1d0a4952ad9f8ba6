"""``python -m app.analysis.shipmodel write|check``: the shipped model file, for the build scripts.

``write`` regenerates app/analysis/builtin_model.json from the current code (deterministic, a
few seconds); ``check`` exits 1 unless the file loads and is what the code would train.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.analysis.builtin import BUILTIN_MODEL_FILE, build_builtin_model, load_builtin_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.analysis.shipmodel", description=__doc__)
    parser.add_argument("action", choices=["write", "check"])
    parser.add_argument("--file", type=Path, default=None, help="default: the package's file")
    args = parser.parse_args(argv)
    target: Path = args.file or BUILTIN_MODEL_FILE
    built = build_builtin_model()
    if args.action == "write":
        target.write_bytes(built.to_json())
        print(f"wrote shipped model {built.version} to {target}")
        return 0
    shipped = load_builtin_model(target)
    if shipped is None:
        print(f"{target}: missing or unreadable; run: python -m app.analysis.shipmodel write")
        return 1
    if shipped.version != built.version:
        print(
            f"{target} holds {shipped.version} but the code trains {built.version}; "
            "run: python -m app.analysis.shipmodel write"
        )
        return 1
    print(f"shipped model {shipped.version} is current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
