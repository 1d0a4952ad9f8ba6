"""Trim a virtualenv for the container image (run in the Dockerfile's build stage).

- botocore ships the API models of ~440 AWS services (about 28 MB); the app calls S3 and
  Secrets Manager only (plus STS, which credential providers may use). The others go.
- test suites bundled inside packages (numpy's, for instance) are never run in the image, nor
  numpy's build tools (f2py, distutils, C headers);
- SQLAlchemy's optional Cython speed-ups (about 9 MB unstripped): it falls back to its pure
  Python code, and the app uses SQLAlchemy only for Alembic's migrations at start;
- Pillow's AVIF codec (about 5 MB): the app accepts PNG, JPEG and WebP only
  (app/analysis/decode.py), so AVIF is attack surface without use.
Usage: python image-trim.py VENV
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

KEEP_SERVICES = {"s3", "secretsmanager", "sts", "sso", "sso-oidc"}


def trim(venv: Path) -> int:
    freed = 0
    site = next(venv.glob("lib/python3*/site-packages"))
    data = site / "botocore" / "data"
    for entry in data.iterdir():
        if entry.is_dir() and entry.name not in KEEP_SERVICES:
            freed += sum(f.stat().st_size for f in entry.rglob("*") if f.is_file())
            shutil.rmtree(entry)
    dirs = [
        *site.glob("numpy/**/tests"),
        *site.glob("PIL/**/tests"),
        *site.glob("numpy/f2py"),
        *site.glob("numpy/distutils"),
        *site.glob("numpy/_core/include"),
        *site.glob("numpy/_pyinstaller"),
        *site.glob("sqlalchemy/testing"),
    ]
    for folder in dirs:
        if folder.is_dir():
            freed += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
            shutil.rmtree(folder)
    for ext in [
        *site.glob("sqlalchemy/**/*_cy.cpython-*.so"),
        *site.glob("PIL/_avif.cpython-*.so"),
        *site.glob("pillow.libs/libavif*"),
    ]:
        freed += ext.stat().st_size
        ext.unlink()
    return freed


if __name__ == "__main__":
    freed = trim(Path(sys.argv[1]))
    print(f"image-trim: freed {freed / 1e6:.1f} MB")
