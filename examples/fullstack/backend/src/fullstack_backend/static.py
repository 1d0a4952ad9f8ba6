"""Dev mode only: serve a `next export`-style folder (BACKEND_STATIC_DIR) from the backend, on the
same origin as /api, with the rules CloudFront applies in production (examples/fullstack/README.md,
"the static-build contract"): hashed assets under /_next/static are immutable, everything else
`no-cache`; `/runs` is runs.html (or runs/index.html); a path with no file falls back to
index.html, except under /_next/ where a missing file stays a 404."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response

IMMUTABLE = "public, max-age=31536000, immutable"


def static_endpoint(root: Path) -> Callable[[Request], Awaitable[Response]]:
    root = root.resolve()

    def find(path: str) -> Path | None:
        rel = path.lstrip("/")
        for candidate in (rel, f"{rel}.html", f"{rel}/index.html") if rel else ("index.html",):
            target = (root / candidate).resolve()
            # resolve() then is_relative_to: `..` and symlinks cannot leave the folder.
            if target.is_relative_to(root) and target.is_file():
                return target
        return None

    async def endpoint(request: Request) -> Response:
        path = request.url.path
        target = find(path)
        if target is None:
            if path.startswith("/_next/"):
                return PlainTextResponse("not found", status_code=404)
            target = root / "index.html"
        immutable = path.startswith("/_next/static/") and target.suffix in {".js", ".css"}
        headers = {"Cache-Control": IMMUTABLE if immutable else "no-cache"}
        return FileResponse(target, headers=headers)

    return endpoint
