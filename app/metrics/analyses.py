"""The analyses rollup: one row per hour, updated in the analysis row's own transaction."""

from __future__ import annotations

import aiosqlite

from app.metrics.recorder import HOUR


async def count_analysis(
    conn: aiosqlite.Connection, created_at: float, verdict: str, processing_ms: float
) -> None:
    await conn.execute(
        "INSERT INTO analysis_hourly (hour, analyses, anomalous, processing_ms_sum) "
        "VALUES (?, 1, ?, ?) ON CONFLICT (hour) DO UPDATE SET analyses = analyses + 1, "
        "anomalous = anomalous + excluded.anomalous, "
        "processing_ms_sum = processing_ms_sum + excluded.processing_ms_sum",
        (int(created_at // HOUR), 1 if verdict == "anomalous" else 0, processing_ms),
    )
