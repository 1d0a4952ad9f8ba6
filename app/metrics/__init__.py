"""Usage metrics counted by the app itself, into SQLite, with rollups for the dashboard.

- `middleware`: a pure ASGI middleware that records every answered request (cheaply: in memory).
- `recorder`: batches those records and flushes them through the single writer about once a
  second, into a raw log and hourly/daily rollup tables.
- `sessions`: anonymous session hashes (salted with a key that rotates daily, never stored).
- `heartbeat`: a background task writing one row per interval; uptime comes from these rows.
- `analyses`: the rollup of analyses, written in the same transaction as the analysis row.
- `queries`: every figure the dashboard, `/api/metrics` and the SSE stream show.
- `emf`: CloudWatch embedded-metric-format lines on stdout.
- `live`: wakes the server-sent-events streams when figures change.
- `runtime`: starts and stops all of the above with the app.
"""
