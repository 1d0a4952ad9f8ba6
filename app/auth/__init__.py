"""Admin authentication: password, server-side sessions, CSRF, login rate limits, the gate.

One admin password (argon2 hash from Secrets Manager in production, an environment variable
locally), sessions recorded in the database so logout really ends them, and one ASGI gate that
closes every route not listed in `app.web.routes.PUBLIC_PATHS`.
"""
