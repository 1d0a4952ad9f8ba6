"""Build out/ from src/: the same shape as `next build && next export` output (stdlib only).

    python3 examples/fullstack/frontend/build.py [--out DIR]

- src/assets/* are copied to out/_next/static/{css,chunks}/<name>-<hash>.<ext>, <hash> taken
  from the content, so a changed file gets a new name and may be cached for a year;
- src/*.html are written to out/ with every {{asset:NAME}} replaced by the hashed URL
  (index.html -> out/index.html, runs.html -> out/runs.html, 404.html -> out/404.html);
- out/_next/static/<build id>/_buildManifest.js names the build, as Next.js does.

The output is a pure function of src/: building twice gives the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
ASSET_REF = re.compile(r"\{\{asset:([A-Za-z0-9_.-]+)\}\}")
KIND = {".css": "css", ".js": "chunks"}


def digest(data: bytes, length: int = 16) -> str:
    return hashlib.sha256(data).hexdigest()[:length]


def build(src: Path, out: Path) -> dict[str, str]:
    """Write the site to `out` (replaced); return {asset name: URL path}."""
    if out.exists():
        shutil.rmtree(out)
    urls: dict[str, str] = {}
    hashes = hashlib.sha256()
    for asset in sorted((src / "assets").iterdir()):
        if asset.suffix not in KIND:
            raise SystemExit(f"build.py: {asset.name}: only .css and .js assets are handled")
        data = asset.read_bytes()
        hashes.update(asset.name.encode() + b"\0" + data)
        rel = f"_next/static/{KIND[asset.suffix]}/{asset.stem}-{digest(data)}{asset.suffix}"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
        urls[asset.name] = "/" + rel

    def resolve(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in urls:
            raise SystemExit(f"build.py: unknown asset {{{{asset:{name}}}}} (src/assets/{name})")
        return urls[name]

    for page in sorted(src.glob("*.html")):
        html = ASSET_REF.sub(resolve, page.read_text(encoding="utf-8"))
        hashes.update(page.name.encode() + b"\0" + html.encode())
        (out / page.name).write_text(html, encoding="utf-8")

    build_id = digest(hashes.digest(), 21)
    manifest = out / "_next" / "static" / build_id / "_buildManifest.js"
    manifest.parent.mkdir(parents=True)
    pages = {"/" + p.stem.replace("index", ""): p.name for p in sorted(src.glob("*.html"))}
    manifest.write_text(
        f"self.__BUILD_MANIFEST = {json.dumps(pages, sort_keys=True)};\n", encoding="utf-8"
    )
    (out / "BUILD_ID").write_text(build_id + "\n", encoding="utf-8")
    return urls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "out")
    args = parser.parse_args()
    urls = build(SRC, args.out)
    print(f"built {args.out} ({len(urls)} hashed assets)")


if __name__ == "__main__":
    main()
