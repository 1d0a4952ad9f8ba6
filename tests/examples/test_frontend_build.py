"""The static frontend: out/ is what build.py makes from src/ (so the committed files are
current), and it keeps the contract the kit relies on (README: hashed assets under
_next/static, HTML pages at the top, 404.html, and same-origin /api/ calls)."""

from __future__ import annotations

import hashlib
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

FRONTEND = Path(__file__).resolve().parents[2] / "examples" / "fullstack" / "frontend"
OUT = FRONTEND / "out"
HASHED = re.compile(r"^(?P<stem>[a-z0-9_]+)-(?P<hash>[0-9a-f]{16})\.(css|js)$")


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_committed_out_is_what_build_py_makes(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(FRONTEND / "build.py"), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    built = tree(tmp_path / "out")
    assert built == tree(OUT), "out/ is stale: run python3 examples/fullstack/frontend/build.py"


def test_build_is_deterministic_and_renames_changed_assets(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("frontend_build", FRONTEND / "build.py")
    assert spec and spec.loader
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    src = tmp_path / "src"
    subprocess.run(["cp", "-r", str(FRONTEND / "src"), str(src)], check=True)
    first = build.build(src, tmp_path / "a")
    assert build.build(src, tmp_path / "b") == first
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    (src / "assets" / "site.css").write_text("body { color: red; }\n")
    second = build.build(src, tmp_path / "c")
    assert second["site.css"] != first["site.css"]
    assert second["runs.js"] == first["runs.js"]
    assert second["site.css"] in (tmp_path / "c" / "index.html").read_text()


def test_out_keeps_the_contract() -> None:
    files = tree(OUT)
    for page in ("index.html", "404.html", "runs.html"):
        assert page in files, page
    assets = [name for name in files if name.startswith("_next/static/")]
    hashed = [name for name in assets if not name.endswith("_buildManifest.js")]
    assert hashed
    for name in hashed:
        match = HASHED.match(Path(name).name)
        assert match, f"{name}: not <name>-<16 hex>.<ext>"
        assert hashlib.sha256(files[name]).hexdigest().startswith(match["hash"]), name
    # Every asset an HTML page names exists, and pages name only hashed assets.
    for page in (n for n in files if n.endswith(".html")):
        html = files[page].decode()
        refs = re.findall(r'(?:src|href)="(/[^"]*)"', html)
        for ref in refs:
            if ref.startswith("/_next/"):
                assert ref.lstrip("/") in files, f"{page} names missing {ref}"
                assert HASHED.match(Path(ref).name), f"{page} names unhashed {ref}"
        assert "{{asset:" not in html
    runs_js = next(files[n] for n in hashed if "/runs-" in n).decode()
    assert "new EventSource(" in runs_js
    assert '"/api/runs"' in runs_js and "http" not in runs_js  # same origin, no host baked in
