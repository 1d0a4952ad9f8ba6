"""`/history` (protected): the analyses, paginated and filtered; `/history/export.csv`.

Filters: `from` and `to` (dates, UTC, inclusive), `verdict` (typical | anomalous), `source`
(upload, the default | demo | all). The CSV has the same rows (up to EXPORT_LIMIT) and is
streamed as a download, EXPORT_PAGE rows at a time (memory stays flat however many rows).
A GET changes nothing: the export is not stored anywhere; one log line (`history exported`,
with the filters and the row count) records what left the system.
Cells that a spreadsheet would run as a formula are neutralised (OWASP CSV injection).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from app.services import services
from app.storage.keys import new_id
from app.web.pages import render

log = logging.getLogger("crayon.history")

PAGE_SIZE: Final = 25
EXPORT_LIMIT: Final = 100_000
EXPORT_PAGE: Final = 1000
VERDICTS: Final = ("typical", "anomalous")
SOURCES: Final = ("upload", "demo", "all")


@dataclass(frozen=True)
class Filters:
    date_from: str = ""
    date_to: str = ""
    verdict: str = ""
    source: str = "upload"
    errors: tuple[str, ...] = ()

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.source in ("upload", "demo"):
            clauses.append("source = ?")
            params.append(self.source)
        if self.verdict:
            clauses.append("verdict = ?")
            params.append(self.verdict)
        if self.date_from:
            clauses.append("created_at >= ?")
            params.append(_day_start(self.date_from))
        if self.date_to:
            clauses.append("created_at < ?")
            params.append(_day_start(self.date_to) + 86400)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def query(self, **extra: Any) -> str:
        values = {
            "from": self.date_from,
            "to": self.date_to,
            "verdict": self.verdict,
            "source": self.source,
            **extra,
        }
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})


def _day_start(value: str) -> float:
    return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()


def _valid_date(value: str) -> bool:
    try:
        _day_start(value)
    except ValueError:
        return False
    return True


def parse_filters(request: Request) -> Filters:
    q = request.query_params
    errors: list[str] = []
    date_from = q.get("from", "").strip()
    date_to = q.get("to", "").strip()
    for name, value in (("From", date_from), ("To", date_to)):
        if value and not _valid_date(value):
            errors.append(f"{name} date {value[:20]!r} is not a date like 2026-01-31; ignored.")
    date_from = date_from if _valid_date(date_from) else ""
    date_to = date_to if _valid_date(date_to) else ""
    verdict = q.get("verdict", "")
    if verdict and verdict not in VERDICTS:
        errors.append(f"Verdict {verdict[:20]!r} is unknown; showing every verdict.")
        verdict = ""
    source = q.get("source", "upload")
    if source not in SOURCES:
        errors.append(f"Source {source[:20]!r} is unknown; showing uploads.")
        source = "upload"
    return Filters(date_from, date_to, verdict, source, tuple(errors))


def _row_view(row: Any) -> dict[str, Any]:
    result = json.loads(row["result_json"])
    return {
        "id": row["id"],
        "created": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(row["created_at"])),
        "source": row["source"],
        "age_group": row["age_group"],
        "score": row["score"],
        "verdict": row["verdict"],
        "threshold": row["threshold"],
        "model_version": row["model_version"],
        "processing_ms": row["processing_ms"],
        "width": row["width"],
        "height": row["height"],
        "country": row["country"] or "unknown",
        "top_features": [f.get("name", "") for f in result.get("top_features", [])],
    }


_SELECT: Final = (
    "SELECT id, created_at, source, age_group, score, verdict, threshold, model_version, "
    "processing_ms, width, height, country, result_json FROM analyses"
)


async def history(request: Request) -> Response:
    filters = parse_filters(request)
    where, params = filters.where()
    db = services(request).db
    total = int(await db.fetchval(f"SELECT COUNT(*) FROM analyses{where}", params))
    pages = max(1, math.ceil(total / PAGE_SIZE))
    try:
        page = min(max(int(request.query_params.get("page", "1")), 1), pages)
    except ValueError:
        page = 1
    rows = await db.fetchall(
        f"{_SELECT}{where} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
        [*params, PAGE_SIZE, (page - 1) * PAGE_SIZE],
    )
    today = datetime.now(UTC).date()
    return render(
        request,
        "history.html",
        rows=[_row_view(r) for r in rows],
        filters=filters,
        total=total,
        page=page,
        pages=pages,
        prev_url=f"/history?{filters.query(page=page - 1)}" if page > 1 else None,
        next_url=f"/history?{filters.query(page=page + 1)}" if page < pages else None,
        export_url=f"/history/export.csv?{filters.query()}",
        verdicts=VERDICTS,
        sources=SOURCES,
        last_week=(today - timedelta(days=6)).isoformat(),
        today=today.isoformat(),
    )


CSV_COLUMNS: Final = (
    "id",
    "created",
    "source",
    "age_group",
    "score",
    "verdict",
    "threshold",
    "model_version",
    "processing_ms",
    "width",
    "height",
    "country",
    "top_features",
)


def safe_cell(value: Any) -> Any:
    """Neutralise text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_lines(rows: list[dict[str, Any]], *, header: bool = False) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    for row in rows:
        cells = {**row, "top_features": "; ".join(row["top_features"])}
        writer.writerow([safe_cell(cells[c]) for c in CSV_COLUMNS])
    return buf.getvalue().encode("utf-8")


def to_csv(rows: list[dict[str, Any]]) -> bytes:
    return csv_lines(rows, header=True)


async def export_csv(request: Request) -> Response:
    filters = parse_filters(request)
    where, params = filters.where()
    db = services(request).db
    name = f"analyses-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{new_id()[:8]}"

    async def body() -> AsyncIterator[bytes]:
        yield csv_lines([], header=True)
        sent = 0
        after: tuple[float, str] | None = None
        while sent < EXPORT_LIMIT:
            # Keyset pages in the history's order: rows added meanwhile are neither
            # repeated nor skipped within the pages already sent.
            clause, args = where, list(params)
            if after is not None:
                clause += (" AND " if clause else " WHERE ") + (
                    "(created_at < ? OR (created_at = ? AND id > ?))"
                )
                args += [after[0], after[0], after[1]]
            rows = await db.fetchall(
                f"{_SELECT}{clause} ORDER BY created_at DESC, id LIMIT ?",
                [*args, min(EXPORT_PAGE, EXPORT_LIMIT - sent)],
            )
            if not rows:
                break
            yield csv_lines([_row_view(r) for r in rows])
            sent += len(rows)
            after = (rows[-1]["created_at"], rows[-1]["id"])
        log.info("history exported", extra={"filters": filters.query(), "rows": sent})

    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}.csv"',
            "Cache-Control": "no-store",
        },
    )
