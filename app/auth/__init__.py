"""Admin authentication: password, server-side sessions, CSRF, login rate limits, the gate.

One admin password (argon2 hash from Secrets Manager in production, an environment variable
locally), sessions recorded in the database so logout really ends them, and one ASGI gate that
closes every route whose rules (declared in `app.web.routes`) are not public.
"""
