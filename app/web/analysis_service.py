"""The analysis path shared by the API, the upload form and the demo: decode, analyse, store.

Order of work for an upload, chosen so nothing is ever half-stored:
1. refuse what is wrong without storing anything (age group, size, decoding: 4xx);
2. analyse (in a worker thread; at most `AnalysisService.slots` at once, a number derived from
   the memory budget: app/analysis/budget.py);
3. put the clean drawing and the heat map into storage;
4. insert the analysis row and its metrics rollup in ONE transaction;
5. if 3 or 4 fails, delete what 3 stored, and answer 5xx/503.
A row therefore always points at stored files, and a refused upload leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Final

import aiosqlite
from starlette.concurrency import run_in_threadpool

from app.analysis.budget import analysis_slots, memory_budget_mb, release_memory
from app.analysis.common import AGE_GROUPS, AgeGroup, is_age_group
from app.analysis.decode import MAX_UPLOAD_BYTES, UploadRejected, decode_upload
from app.analysis.engine import AnalysisResult, analyse
from app.analysis.model import ReferenceModel
from app.analysis.training import ensure_model, installed_model, load_newest_model
from app.db import Database
from app.metrics import emf
from app.metrics.analyses import count_analysis
from app.metrics.live import Changes
from app.settings import Settings
from app.storage import keys
from app.storage.base import Storage

log = logging.getLogger("crayon.analyses")

THRESHOLD_KEY: Final = "anomaly_threshold"
#: Why /readyz says no while the reference model is not loaded.
MODEL_NOT_READY: Final = "reference model: still being prepared"
ID_PATTERN: Final = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"

ANALYSIS_COLUMNS: Final = (
    "id, created_at, source, age_group, score, verdict, threshold, model_version, "
    "processing_ms, width, height, drawing_key, heatmap_key, result_json, country"
)


class Refused(Exception):
    """An input the app refuses, with an HTTP status and a sentence for a person."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Origin:
    """Where an upload came from, for the metrics (no address is kept)."""

    session_hash: str | None = None
    country: str = "unknown"


def age_group_or_refuse(value: object) -> AgeGroup:
    if not is_age_group(value):
        groups = ", ".join(AGE_GROUPS)
        raise Refused(f"Choose the child's age group: one of {groups}.", 400)
    return value


def public_view(row: aiosqlite.Row | dict[str, Any]) -> dict[str, Any]:
    """The API's JSON for an analysis row (also what the result page renders)."""
    result = json.loads(row["result_json"])
    analysis_id = row["id"]
    return {
        "id": analysis_id,
        "created_at": row["created_at"],
        "created": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(row["created_at"])),
        "source": row["source"],
        "age_group": row["age_group"],
        "score": row["score"],
        "verdict": row["verdict"],
        "threshold": row["threshold"],
        "meaning": result.get("meaning", ""),
        "top_features": [
            {k: f[k] for k in ("key", "name", "text", "value", "typical", "z") if k in f}
            for f in result.get("top_features", [])
        ],
        "processing_ms": row["processing_ms"],
        "model_version": row["model_version"],
        "width": row["width"],
        "height": row["height"],
        "drawing_url": f"/files/{analysis_id}/drawing.png",
        "heatmap_url": f"/files/{analysis_id}/heatmap.png",
        "result_url": f"/analyses/{analysis_id}",
        "description": result.get("description"),
        "synthetic": bool(result.get("synthetic", False)),
    }


class _EngineFailed(Exception):
    """The decoder accepted the file but the engine failed on it (a bug, logged)."""


def _run_analysis(
    data: bytes, content_type: str | None, group: AgeGroup, model: ReferenceModel, threshold: float
) -> tuple[AnalysisResult, bytes]:
    """Decode, analyse and encode the clean PNG in one worker thread; then give memory back."""
    try:
        return _decode_and_analyse(data, content_type, group, model, threshold)
    finally:
        # The image's buffers died with the call above; without this glibc keeps their pages
        # and the resident size stays near the peak of the largest image seen (bench/analysis.py).
        release_memory()


def _decode_and_analyse(
    data: bytes, content_type: str | None, group: AgeGroup, model: ReferenceModel, threshold: float
) -> tuple[AnalysisResult, bytes]:
    decoded = decode_upload(data, content_type)
    try:
        result = analyse(decoded, group, model, threshold)
    except Exception as exc:
        raise _EngineFailed from exc
    return result, decoded.png


def analysis_ready(analyses: AnalysisService | None) -> bool:
    """Readiness check: an analysis can be served now (the reference model is loaded)."""
    return analyses is not None and analyses.model is not None


class AnalysisService:
    def __init__(self, settings: Settings, db: Database, storage: Storage) -> None:
        self.settings = settings
        self.db = db
        self.storage = storage
        self.model: ReferenceModel | None = None
        self.threshold = settings.anomaly_threshold
        self.changes: Changes | None = None
        self.memory_budget_mb = memory_budget_mb(settings.memory_budget_mb)
        self.slots = analysis_slots(self.memory_budget_mb)
        self._slots = asyncio.Semaphore(self.slots)
        self._model_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        stored = await self.db.fetchval(
            "SELECT value FROM app_settings WHERE key = ?", (THRESHOLD_KEY,)
        )
        if stored is not None:
            try:
                self.threshold = min(max(float(stored), 0.0), 1.0)
            except ValueError:
                log.warning("ignoring unreadable stored threshold %r", stored)
        log.info(
            "analyses at once: %d (memory budget %d MB)",
            self.slots,
            self.memory_budget_mb,
        )
        # The stored model, else the one shipped in the package: ready at once.
        self.model = await run_in_threadpool(installed_model, self.storage)
        if self.model is None:
            # The shipped file is missing (a broken build): train it in the background;
            # uploads answer 503 and /readyz is not ready until then.
            self._model_task = asyncio.create_task(self._train_builtin())

    async def _train_builtin(self) -> None:
        try:
            self.model = await run_in_threadpool(ensure_model, self.storage)
            log.info("reference model ready", extra={"model_version": self.model.version})
        except Exception:
            log.exception("could not prepare a reference model")

    async def stop(self) -> None:
        if self._model_task is not None:
            self._model_task.cancel()

    async def reload_model(self) -> str | None:
        model = await run_in_threadpool(load_newest_model, self.storage)
        if model is not None:
            self.model = model
        return None if self.model is None else self.model.version

    async def set_threshold(self, value: float) -> None:
        if not 0.0 <= value <= 1.0:
            raise Refused("The threshold must be a number from 0 to 1.", 400)
        await self.db.execute_write(
            "INSERT INTO app_settings (key, value, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
            "updated_at = excluded.updated_at",
            (THRESHOLD_KEY, repr(float(value)), time.time()),
        )
        self.threshold = float(value)

    async def submit(
        self, data: bytes, content_type: str | None, age_group: object, origin: Origin
    ) -> dict[str, Any]:
        """Analyse and store an upload; returns the public view. Raises Refused for 4xx/503."""
        group = age_group_or_refuse(age_group)
        if len(data) > MAX_UPLOAD_BYTES:
            raise Refused(
                f"The file is larger than the {MAX_UPLOAD_BYTES // 1_048_576} MB limit.", 413
            )
        model = self.model
        if model is None:
            raise Refused(
                "The reference model is still being prepared; try again in a minute.", 503
            )
        threshold = self.threshold
        async with self._slots:
            try:
                result, drawing_png = await run_in_threadpool(
                    _run_analysis, data, content_type, group, model, threshold
                )
            except UploadRejected as exc:
                raise Refused(exc.message.rstrip(".") + ".", exc.status) from None
            except _EngineFailed:
                # The decoder accepted the file, so this is the engine's fault: log it loudly,
                # but answer the person with a refusal rather than a crash.
                log.exception("analysis failed on a decoded image")
                raise Refused(
                    "This image could not be analysed. Try another drawing or format.", 422
                ) from None
        analysis_id = keys.new_id()
        row = {
            "id": analysis_id,
            "created_at": time.time(),
            "source": "upload",
            "age_group": group,
            "score": result.score,
            "verdict": result.verdict,
            "threshold": result.threshold,
            "model_version": result.model_version,
            "processing_ms": result.processing_ms,
            "width": result.width,
            "height": result.height,
            "drawing_key": keys.drawing_key(analysis_id),
            "heatmap_key": keys.heatmap_key(analysis_id),
            "result_json": json.dumps(_result_json(result), separators=(",", ":")),
            "session_hash": origin.session_hash,
            "country": origin.country,
        }
        await self._store(row, drawing_png, result.heatmap_png)
        emf.emit_analysis(result.processing_ms, result.verdict, group)
        if self.changes is not None:
            self.changes.bump()
        return public_view(row)

    async def _store(self, row: dict[str, Any], drawing: bytes, heatmap: bytes) -> None:
        stored: list[str] = []
        try:
            for key, data in ((row["drawing_key"], drawing), (row["heatmap_key"], heatmap)):
                await run_in_threadpool(self.storage.put, key, data, "image/png")
                stored.append(key)

            async def insert(conn: aiosqlite.Connection) -> None:
                await conn.execute(
                    "INSERT INTO analyses (id, created_at, source, age_group, score, verdict, "
                    "threshold, model_version, processing_ms, width, height, drawing_key, "
                    "heatmap_key, result_json, session_hash, country) VALUES (:id, :created_at, "
                    ":source, :age_group, :score, :verdict, :threshold, :model_version, "
                    ":processing_ms, :width, :height, :drawing_key, :heatmap_key, :result_json, "
                    ":session_hash, :country)",
                    row,
                )
                await count_analysis(conn, row["created_at"], row["verdict"], row["processing_ms"])

            await self.db.transaction(insert)
        except BaseException as exc:
            for key in stored:
                try:
                    await asyncio.shield(run_in_threadpool(self.storage.delete, key))
                except Exception:
                    log.exception("could not remove %s after a failed upload", key)
            if not isinstance(exc, Exception):
                raise
            log.exception("storing an analysis failed")
            raise Refused("The analysis could not be saved; please try again.", 503) from None

    async def get(self, analysis_id: str) -> aiosqlite.Row | None:
        return await self.db.fetchone(
            f"SELECT {ANALYSIS_COLUMNS} FROM analyses WHERE id = ?",
            (analysis_id,),
        )


def _result_json(result: AnalysisResult, **extra: Any) -> dict[str, Any]:
    data = result.to_dict()
    data.update(extra)
    return data
